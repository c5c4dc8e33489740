"""Database toolbox: migration runner, Supabase-compatibility bootstrap, embedded services,
demo data and development tokens."""
