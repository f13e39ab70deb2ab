//! Every error environment answers with beyond the shared ones, each worded once.

platform::error_codes! {
    pub enum EnvironmentError {
        /// The deployment has no forecast source configured.
        NoWeatherSource = (NOT_FOUND, "no_weather_source",
            "Dịch vụ dự báo thời tiết chưa được kết nối.",
            "The weather forecast is not connected yet."),
        AirStationNotFound = (NOT_FOUND, "air_station_not_found",
            "Không có trạm quan trắc không khí này.", "There is no such air monitoring station."),
        RiverGaugeNotFound = (NOT_FOUND, "river_gauge_not_found",
            "Không có trạm đo mực nước này.", "There is no such river gauge."),
    }
}
