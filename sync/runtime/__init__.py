"""How sync runs: daemon lifecycle, readiness, scheduler, runners, the HTTP app."""
