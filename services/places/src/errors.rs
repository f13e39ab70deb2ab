//! Every error places answers with beyond the shared ones, each worded once.

platform::error_codes! {
    pub enum PlacesError {
        UnknownPlaceLayer = (UNPROCESSABLE_ENTITY, "unknown_place_layer",
            "Loại địa điểm không hợp lệ.",
            "Unknown kind of place: use toilets, wifi, parking, motorbike_parking, heritage or camera."),
        PlaceNotFound = (NOT_FOUND, "place_not_found",
            "Không có địa điểm này.", "There is no such place."),
    }
}
