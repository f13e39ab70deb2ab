-- Community: the city's events calendar, lost and found, and residents' questions to the
-- government with the departments' public answers.

-- Events the city's operators (or a ward's officers, for their ward) publish. An all-day event
-- runs from local midnight of its first day to local midnight after its last.
CREATE TABLE events (
    id             uuid PRIMARY KEY,
    jurisdiction   text NOT NULL,
    -- NULL: the whole city's.
    ward           text,
    category       text NOT NULL,
    title_vi       text NOT NULL,
    title_en       text NOT NULL,
    description_vi text NOT NULL,
    description_en text NOT NULL,
    venue_vi       text NOT NULL,
    venue_en       text NOT NULL,
    latitude       double precision,
    longitude      double precision,
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL CHECK (ends_at > starts_at),
    all_day        boolean NOT NULL,
    url            text,
    cancelled      boolean NOT NULL DEFAULT false,
    -- iCalendar's SEQUENCE: calendars that subscribed replace their copy when it grows.
    sequence       integer NOT NULL DEFAULT 0,
    created_by     uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);
-- A period's events, in order: those ending after its start, then by start.
CREATE INDEX events_by_start ON events (jurisdiction, starts_at, id);

-- Lost and found: residents post what they lost or found; the police (or the ward's
-- officers) keep found things and hand them back.
CREATE TABLE lost_items (
    id           uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    ward         text,
    kind         text NOT NULL CHECK (kind IN ('lost', 'found')),
    category     text NOT NULL,
    description  text NOT NULL,
    place        text NOT NULL,
    occurred_on  date NOT NULL,
    media_ids    uuid[] NOT NULL DEFAULT '{}',
    -- NULL once the resident's account is erased: the post stays, anonymous.
    posted_by    uuid,
    status       text NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'held', 'returned', 'withdrawn')),
    -- Where the officers keep a found thing, shown to the public.
    held_at      text,
    handled_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lost_items_listed ON lost_items (jurisdiction, created_at DESC, id DESC)
    WHERE status IN ('open', 'held');
CREATE INDEX lost_items_by_poster ON lost_items (posted_by, created_at DESC);

-- Questions to a department. A moderator publishes or rejects each before anyone else sees
-- it; the department's answer is public with it.
CREATE TABLE questions (
    id                 uuid PRIMARY KEY,
    jurisdiction       text NOT NULL,
    department         text NOT NULL,
    -- The department's names when asked, as reports named it.
    department_name_vi text NOT NULL,
    department_name_en text NOT NULL,
    title              text NOT NULL,
    body               text NOT NULL,
    -- NULL once the asker's account is erased.
    asked_by           uuid,
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'published', 'answered', 'rejected')),
    reject_reason      text,
    moderated_by       uuid,
    answer_vi          text,
    answer_en          text,
    answered_by        uuid,
    answered_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'answered') = (answer_vi IS NOT NULL))
);
-- The public list: what moderators let through, newest first.
CREATE INDEX questions_public ON questions (jurisdiction, created_at DESC, id DESC)
    WHERE status IN ('published', 'answered');
-- A department's queue: what waits for moderation or an answer.
CREATE INDEX questions_waiting ON questions (jurisdiction, department, created_at)
    WHERE status IN ('pending', 'published');
CREATE INDEX questions_by_asker ON questions (asked_by, created_at DESC);
