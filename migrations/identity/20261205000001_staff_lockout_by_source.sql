-- Staff lockouts are kept per (username, client address) by the sign-in guard's counters,
-- never per account: a lock on the account let anyone lock an officer out from elsewhere.
ALTER TABLE accounts DROP COLUMN failed_logins, DROP COLUMN locked_until;
