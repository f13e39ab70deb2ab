-- The point lookup's first cut: the zones whose bounding box holds the point, by a GiST index
-- (a B-tree over four range columns bounds only the first).
DROP INDEX planning_zones_by_box;
CREATE INDEX planning_zones_by_box ON planning_zones
    USING gist (box(point(min_lon, min_lat), point(max_lon, max_lat)));
