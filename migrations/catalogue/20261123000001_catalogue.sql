-- The catalogue of city services per jurisdiction, loaded from the repository's data files
-- by an idempotent seed. Texts are Vietnamese first, English second.

CREATE TABLE jurisdictions (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,64}$'),
    name_vi     text NOT NULL,
    name_en     text NOT NULL,
    -- Hash of the seeded data: the seed skips a jurisdiction whose file has not changed, and
    -- it is part of every ETag, so caches refresh when the catalogue does.
    content_hash text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE categories (
    jurisdiction text NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    id           text NOT NULL CHECK (id ~ '^[a-z0-9-]{1,64}$'),
    name_vi      text NOT NULL,
    name_en      text NOT NULL,
    icon         text NOT NULL,
    sort_order   integer NOT NULL,
    PRIMARY KEY (jurisdiction, id)
);

CREATE TABLE services (
    jurisdiction   text NOT NULL,
    id             text NOT NULL CHECK (id ~ '^[a-z0-9-]{1,64}$'),
    category       text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('native', 'lookup', 'webview', 'link')),
    name_vi        text NOT NULL,
    name_en        text NOT NULL,
    description_vi text NOT NULL,
    description_en text NOT NULL,
    icon           text NOT NULL,
    assurance      text NOT NULL CHECK (assurance IN ('anonymous', 'basic', 'verified')),
    agency_vi      text NOT NULL,
    agency_en      text NOT NULL,
    status         text NOT NULL CHECK (status IN ('published', 'draft', 'retired')),
    keywords       text[] NOT NULL DEFAULT '{}',
    sort_order     integer NOT NULL,
    url            text CHECK ((kind IN ('webview', 'link')) = (url IS NOT NULL)),
    -- Names, descriptions and keywords in both languages, lower-cased with Vietnamese
    -- diacritics removed, so `phan anh` finds "Phản ánh hiện trường".
    search_text    text NOT NULL,
    -- The names alone, folded the same way: name matches rank first.
    search_name    text NOT NULL,
    PRIMARY KEY (jurisdiction, id),
    FOREIGN KEY (jurisdiction, category) REFERENCES categories (jurisdiction, id)
);

-- The home screen lists published services of one jurisdiction in category order.
CREATE INDEX services_published_by_category
    ON services (jurisdiction, category, sort_order)
    WHERE status = 'published';
