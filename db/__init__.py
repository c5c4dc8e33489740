"""Database toolbox: migration runner, Supabase-compatibility bootstrap, the embedded Postgres
cluster, demo data, development tokens, lint and the schema dump."""
