-- Readings copied from the monitoring networks, kept 35 days (the poll jobs delete older ones).
-- The stations and gauges themselves, with their alarm levels, are configuration (data/hue.toml).

-- One hour's average of one pollutant at an air monitoring station, in µg/m³ whatever unit the
-- network reported it in. `hour` is the start of the hour the average covers, in UTC.
CREATE TABLE air_readings (
    station    text NOT NULL,
    pollutant  text NOT NULL CHECK (pollutant IN ('pm25', 'pm10', 'o3', 'co', 'so2', 'no2')),
    hour       timestamptz NOT NULL CHECK (date_trunc('hour', hour) = hour),
    value      double precision NOT NULL CHECK (value >= 0),
    -- Station first, then hour: the answers read a few stations' last days, every pollutant.
    PRIMARY KEY (station, hour, pollutant)
);

-- A river's level at a gauge, in metres above the national datum (the alarm levels' datum).
CREATE TABLE river_readings (
    gauge       text NOT NULL,
    observed_at timestamptz NOT NULL,
    level_m     double precision NOT NULL,
    PRIMARY KEY (gauge, observed_at)
);
