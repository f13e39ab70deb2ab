-- Where the thing a photo is attached to belongs, as the service attaching it says (reports:
-- the report's jurisdiction, ward and department; media never reads reports' tables). Staff
-- read a photo only when this is within their reach; NULL (unattached) is within nobody's.
ALTER TABLE media
    ADD COLUMN jurisdiction_id text,
    ADD COLUMN ward_id         text,
    ADD COLUMN department_id   text;
