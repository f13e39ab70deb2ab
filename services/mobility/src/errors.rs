//! Every error mobility answers with beyond the shared ones, each worded once.

platform::error_codes! {
    pub enum MobilityError {
        /// The jurisdiction has imported no bus timetable.
        NoTimetable = (NOT_FOUND, "no_bus_timetable",
            "Chưa có lịch xe buýt của địa phương này.",
            "There is no bus timetable for this jurisdiction yet."),
        BusRouteNotFound = (NOT_FOUND, "bus_route_not_found",
            "Không có tuyến xe buýt này.", "There is no such bus route."),
        BusStopNotFound = (NOT_FOUND, "bus_stop_not_found",
            "Không có điểm dừng xe buýt này.", "There is no such bus stop."),
    }
}
