-- A surface-water station's readings: each parameter of VN_WQI (Decision 1460/QĐ-TCMT) in the
-- unit the decision takes it in, and the water temperature (`temperature`, °C). Kept 35 days.
CREATE TABLE water_readings (
    station     text NOT NULL,
    parameter   text NOT NULL,
    observed_at timestamptz NOT NULL,
    value       double precision NOT NULL,
    -- Station first: the answers read each station's latest reading of every parameter.
    PRIMARY KEY (station, parameter, observed_at)
);
