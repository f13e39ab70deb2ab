-- Each jurisdiction's bus timetable, imported whole from a GTFS Schedule feed
-- (`citizen transit import`): a new import replaces the old in one transaction.

CREATE TABLE feeds (
    jurisdiction text PRIMARY KEY,
    agency_name  text NOT NULL,
    agency_url   text NOT NULL,
    -- The feed's bytes' BLAKE3 digest: importing the same feed again changes nothing.
    digest       text NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stops (
    jurisdiction text NOT NULL REFERENCES feeds ON DELETE CASCADE,
    stop_id      text NOT NULL,
    code         text,
    name         text NOT NULL,
    lat          double precision NOT NULL,
    lng          double precision NOT NULL,
    -- H3 resolution 9, for stops near me.
    cell         bigint NOT NULL,
    PRIMARY KEY (jurisdiction, stop_id)
);
CREATE INDEX stops_near ON stops (cell);

CREATE TABLE routes (
    jurisdiction text NOT NULL REFERENCES feeds ON DELETE CASCADE,
    route_id     text NOT NULL,
    short_name   text,
    long_name    text,
    route_type   integer NOT NULL,
    color        text,
    text_color   text,
    sort_order   integer NOT NULL,
    PRIMARY KEY (jurisdiction, route_id)
);

CREATE TABLE trips (
    jurisdiction text NOT NULL REFERENCES feeds ON DELETE CASCADE,
    trip_id      text NOT NULL,
    route_id     text NOT NULL,
    service_id   text NOT NULL,
    headsign     text,
    direction    smallint,
    PRIMARY KEY (jurisdiction, trip_id),
    FOREIGN KEY (jurisdiction, route_id) REFERENCES routes ON DELETE CASCADE
);
-- Every foreign key has an index on its referencing side: replacing a feed deletes in cascade.
CREATE INDEX trips_of_route ON trips (jurisdiction, route_id);

-- Each trip's calls at its stops, in order. Times are seconds from noon minus 12 h of the
-- service day, so past 86 400 on the next morning; a call without a time has none.
CREATE TABLE stop_times (
    jurisdiction   text NOT NULL,
    trip_id        text NOT NULL,
    stop_sequence  integer NOT NULL,
    stop_id        text NOT NULL,
    arrival_secs   integer,
    departure_secs integer,
    -- Whether passengers may board here (pickup_type is not 1).
    boarding       boolean NOT NULL,
    PRIMARY KEY (jurisdiction, trip_id, stop_sequence),
    FOREIGN KEY (jurisdiction, trip_id) REFERENCES trips ON DELETE CASCADE,
    FOREIGN KEY (jurisdiction, stop_id) REFERENCES stops ON DELETE CASCADE
);
-- The next departures from a stop.
CREATE INDEX stop_times_departing ON stop_times (jurisdiction, stop_id, departure_secs)
    WHERE boarding AND departure_secs IS NOT NULL;
CREATE INDEX stop_times_at_stop ON stop_times (jurisdiction, stop_id);

-- The trip standing for each direction of a route (its longest), for the route's line of
-- stops, worked out at import.
CREATE TABLE route_directions (
    jurisdiction text NOT NULL,
    route_id     text NOT NULL,
    -- -1 where the feed gives no direction_id.
    direction    smallint NOT NULL,
    trip_id      text NOT NULL,
    PRIMARY KEY (jurisdiction, route_id, direction),
    FOREIGN KEY (jurisdiction, route_id) REFERENCES routes ON DELETE CASCADE,
    FOREIGN KEY (jurisdiction, trip_id) REFERENCES trips ON DELETE CASCADE
);
CREATE INDEX route_directions_trip ON route_directions (jurisdiction, trip_id);

-- The routes that board at each stop, worked out at import for stops near me.
CREATE TABLE stop_routes (
    jurisdiction text NOT NULL,
    stop_id      text NOT NULL,
    route_id     text NOT NULL,
    PRIMARY KEY (jurisdiction, stop_id, route_id),
    FOREIGN KEY (jurisdiction, stop_id) REFERENCES stops ON DELETE CASCADE,
    FOREIGN KEY (jurisdiction, route_id) REFERENCES routes ON DELETE CASCADE
);
CREATE INDEX stop_routes_of_route ON stop_routes (jurisdiction, route_id);

-- The days each service runs, worked out at import from calendar.txt and calendar_dates.txt,
-- from the day before the import for at most three years.
CREATE TABLE service_days (
    jurisdiction text NOT NULL REFERENCES feeds ON DELETE CASCADE,
    service_id   text NOT NULL,
    day          date NOT NULL,
    PRIMARY KEY (jurisdiction, day, service_id)
);
