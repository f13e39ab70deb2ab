// What the console reads of the jurisdiction without a token (its categories and wards), once
// per tab: they change when an admin imports new ones.

const lists = new Map();

/**
 * The JSON at `path`, fetched once (revalidated with the server, never taken stale from the
 * browser's cache); `null` when it could not be read.
 */
export function publicList(path) {
  if (!lists.has(path)) {
    lists.set(
      path,
      fetch(path, { cache: 'no-cache' }).then((response) => (response.ok ? response.json() : null)),
    );
  }
  return lists.get(path);
}

/** Forgets what was read of `path`: after an import, the next reader fetches it again. */
export function forget(path) {
  lists.delete(path);
}
