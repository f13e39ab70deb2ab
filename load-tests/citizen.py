"""What the Python load-test scripts share: JSON calls to a running Citizen, and signing in."""
import json
import urllib.request


class Citizen:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None, token=None, headers=None, raw=False):
        """The answer's JSON (or its bytes with `raw`); `None` when empty."""
        request = urllib.request.Request(self.base + path, method=method)
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", f"Bearer {token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        with urllib.request.urlopen(request) as response:
            text = response.read()
            if raw:
                return text
            return json.loads(text) if text else None

    def staff_token(self, username):
        """A demo staff member's access token (`identity.dev_seed_staff`)."""
        return self.call("POST", "/v1/auth/staff/login",
                         {"username": username, "password": "hue-demo-password"})["access_token"]
