// What the console reads of the jurisdiction without a token (its categories and wards), once
// per tab: they change when an admin imports new ones.

const lists = new Map();

/** The JSON at `path`, fetched once; `null` when it could not be read. */
export function publicList(path) {
  if (!lists.has(path)) {
    lists.set(
      path,
      fetch(path).then((response) => (response.ok ? response.json() : null)),
    );
  }
  return lists.get(path);
}
