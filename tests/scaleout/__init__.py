"""Scale-out: two web nodes and two RQ workers against one PostgreSQL and one Redis."""
