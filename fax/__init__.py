"""T.30 fax send and receive on a channel (spandsp), TIFF/PDF handling and fax on demand. Not built yet."""
