-- Real-time departures from each jurisdiction's GTFS Realtime TripUpdates feed, read every
-- `realtime_poll_secs` and replaced whole: each call's predicted delay, or that it will not
-- happen (a cancelled trip, a skipped stop).

CREATE TABLE realtime_feeds (
    jurisdiction   text PRIMARY KEY,
    -- The feed header's timestamp: predictions older than a few minutes are not shown.
    feed_timestamp timestamptz NOT NULL,
    fetched_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE predictions (
    jurisdiction  text NOT NULL REFERENCES realtime_feeds ON DELETE CASCADE,
    trip_id       text NOT NULL,
    -- The service day the trip runs on (its times count from that day's noon minus 12 h).
    service_day   date NOT NULL,
    stop_sequence integer NOT NULL,
    -- Seconds later than the timetable (negative: earlier); NULL when cancelled.
    delay_secs    integer,
    cancelled     boolean NOT NULL,
    PRIMARY KEY (jurisdiction, trip_id, service_day, stop_sequence)
);
