"""Signs a resident in through the development SMS sink and verifies them with the VNeID sandbox
as the holder of a personal ID number, as the app and a browser would; prints the verified
access token. Usage: verified_resident.py BASE_URL PERSONAL_ID"""
import json
import random
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

from citizen import Citizen


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def location(url, data=None):
    """Where `url` (a GET, or a form POST of `data`) redirects to."""
    opener = urllib.request.build_opener(NoRedirect)
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        opener.open(urllib.request.Request(url, data=body))
    except urllib.error.HTTPError as redirect:
        if 300 <= redirect.code < 400:
            return redirect.headers["location"]
        raise
    raise RuntimeError(f"{url} did not redirect")


def main(base, personal_id):
    citizen = Citizen(base)
    phone = "09" + "".join(random.choice("0123456789") for _ in range(8))
    citizen.call("POST", "/v1/auth/otp", {"phone": phone})
    sms = citizen.call("GET", f"/v1/dev/sms?phone={phone}")
    code = re.search(r"\d{6}", json.dumps(sms[-1], ensure_ascii=False)).group()
    session = citizen.call("POST", "/v1/auth/otp/verify", {"phone": phone, "code": code})
    started = citizen.call("POST", "/v1/me/verification/vneid", token=session["access_token"])
    authorization = started["authorization_url"]
    asked = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorization).query))
    issuer = authorization.split("/authorize?")[0]
    form = {key: asked.get(key, "") for key in
            ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope")}
    form.update(decision="approve", personal_id=personal_id, name="Nguyễn Thị Hoa",
                birthdate="1990-05-17")
    callback = location(f"{issuer}/authorize/decision", form)
    path = urllib.parse.urlsplit(callback)
    outcome = location(f"{base}{path.path}?{path.query}")
    if not outcome.endswith("status=verified"):
        sys.exit(f"verification ended {outcome}")
    refreshed = citizen.call("POST", "/v1/auth/refresh", {"refresh_token": session["refresh_token"]})
    print(refreshed["access_token"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
