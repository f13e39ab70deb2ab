-- Education: the children parents have linked, the codes that link them, what the poll for
-- newly published scores has read, the schools each jurisdiction's school system lists, and
-- the national exam's results as the department publishes them.

-- A parent's link to a pupil, made by confirming a code the school's recorded phone received.
CREATE TABLE guardianships (
    account_id   uuid NOT NULL,
    jurisdiction text NOT NULL,
    -- The pupil's sourcedId at the school system.
    student_id   text NOT NULL,
    -- The ministry's student code (mã học sinh) the parent typed.
    student_code text NOT NULL,
    student_name text NOT NULL,
    linked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, jurisdiction, student_id)
);
-- Who hears of a pupil's new score.
CREATE INDEX guardianships_by_student ON guardianships (jurisdiction, student_id);

-- A code sent to the phone the school records for a pupil's parent; confirming it links the
-- account. Only the code's hash is kept, and a few tries are allowed.
CREATE TABLE link_challenges (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL,
    jurisdiction text NOT NULL,
    student_id   text NOT NULL,
    student_code text NOT NULL,
    student_name text NOT NULL,
    code_hash    bytea NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX link_challenges_by_account ON link_challenges (account_id, created_at);
CREATE INDEX link_challenges_expired ON link_challenges (expires_at);

-- How far each jurisdiction's poll for newly published results has read.
CREATE TABLE results_read (
    jurisdiction text PRIMARY KEY,
    read_until   timestamptz NOT NULL
);

-- Each result told once per version: the poll reads an overlap, and a corrected score (a new
-- dateLastModified) is told again.
CREATE TABLE results_told (
    jurisdiction  text NOT NULL,
    result_id     text NOT NULL,
    modified_at   timestamptz NOT NULL,
    told_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (jurisdiction, result_id, modified_at)
);
CREATE INDEX results_told_by_age ON results_told (told_at);

-- Schools, as each jurisdiction's school system lists them, copied on a schedule so that
-- "near me" is one indexed query.
CREATE TABLE schools (
    jurisdiction    text NOT NULL,
    -- The org's sourcedId at the school system.
    id              text NOT NULL,
    -- The ministry's school code.
    code            text,
    name            text NOT NULL,
    levels          text[] NOT NULL,
    ownership       text NOT NULL CHECK (ownership IN ('public', 'private')),
    address         text,
    phone           text,
    ward            text,
    -- The wards whose children it enrols (tuyển sinh theo địa bàn).
    enrolment_wards text[] NOT NULL DEFAULT '{}',
    latitude        double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude       double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    -- H3 res-9 and res-7 cells, which near-me queries look up.
    cell            bigint NOT NULL,
    cell_r7         bigint NOT NULL,
    refreshed_at    timestamptz NOT NULL,
    PRIMARY KEY (jurisdiction, id)
);
CREATE INDEX schools_by_cell ON schools (cell);
CREATE INDEX schools_by_coarse_cell ON schools (cell_r7);
CREATE INDEX schools_by_enrolment_ward ON schools USING gin (enrolment_wards);

-- The national high-school graduation exam's results, one row per candidate and year, as the
-- department publishes them. Scores in hundredths, school averages in tenths.
CREATE TABLE exam_results (
    year             integer NOT NULL,
    -- Số báo danh: 8 digits, the council's two first.
    candidate_number text NOT NULL CHECK (candidate_number ~ '^[0-9]{8}$'),
    birth_date       date NOT NULL,
    full_name        text NOT NULL,
    -- Subject code -> score in hundredths.
    scores           jsonb NOT NULL,
    -- N1 (English) to N7, when a foreign language was taken.
    foreign_language text,
    grade10_tenths   integer,
    grade11_tenths   integer,
    grade12_tenths   integer,
    priority_hundredths integer NOT NULL DEFAULT 0,
    PRIMARY KEY (year, candidate_number)
);

-- What each published file was, so an unchanged file is not read again.
-- Each results file's last import, and its last refusal (a file cut off, a bad row), for operators.
CREATE TABLE exam_imports (
    source      text PRIMARY KEY,
    etag        text,
    candidates  integer NOT NULL DEFAULT 0,
    imported_at timestamptz,
    refused_at  timestamptz,
    refusal     text
);
