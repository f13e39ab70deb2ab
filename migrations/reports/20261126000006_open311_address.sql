-- The address a third party gave with a request's position, shown back in Open311's `address`.
ALTER TABLE open311_submitters ADD COLUMN address text;
