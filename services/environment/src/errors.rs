//! Every error environment answers with beyond the shared ones, each worded once.

platform::error_codes! {
    pub enum EnvironmentError {
        /// The deployment has no forecast source configured.
        NoWeatherSource = (NOT_FOUND, "no_weather_source",
            "Dịch vụ dự báo thời tiết chưa được kết nối.",
            "The weather forecast is not connected yet."),
        /// Forecasts are for Vietnam only.
        OutsideForecastCoverage = (UNPROCESSABLE_ENTITY, "outside_forecast_coverage",
            "Chỉ có dự báo thời tiết cho các địa điểm tại Việt Nam.",
            "Forecasts are only available for places in Vietnam."),
        AirStationNotFound = (NOT_FOUND, "air_station_not_found",
            "Không có trạm quan trắc không khí này.", "There is no such air monitoring station."),
        RiverGaugeNotFound = (NOT_FOUND, "river_gauge_not_found",
            "Không có trạm đo mực nước này.", "There is no such river gauge."),
        WasteWardNotFound = (NOT_FOUND, "waste_ward_not_found",
            "Không có lịch thu gom rác của phường này.",
            "There is no waste collection schedule for this ward."),
    }
}
