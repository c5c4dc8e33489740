-- Exports leave the schema PostgREST serves. In `api`, a client could call them through
-- PostgREST's /rpc/ and skip what the edge adds to every export: the limit of five an hour
-- (P17) and the data_export audit entry with the output's sha256 (P21). The edge calls them as
-- the student, as before; PostgREST clients read the same records through the api views.

alter function api.export_records(date, date) set schema app;
alter function api.export_summary(date, date) set schema app;

comment on function app.export_records(date, date) is
'The calling student''s records in a range, for the edge''s export (not served by PostgREST).';
comment on function app.export_summary(date, date) is
'The calling student''s figures for a range, for the edge''s export (not served by PostgREST).';
