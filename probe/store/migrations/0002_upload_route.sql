-- The upload route that last reached the collector (report/upload.RouteMemory):
-- the next drain tries it first. One row at most.
CREATE TABLE upload_route (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	route TEXT NOT NULL,
	time  TEXT NOT NULL
);
