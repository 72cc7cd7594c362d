"""Stage 3, report: results folders are read and verified (``results``), turned into cells once
(``aggregate``), tested (``stats``, ``significance``) and rendered (leaderboards, plots, reproductions)."""
