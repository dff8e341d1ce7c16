// Replaced by the metrics work (issue H).
