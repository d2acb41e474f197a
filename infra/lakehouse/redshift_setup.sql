-- One-time Redshift set-up for the TICKIT models (run as the cluster admin, e.g. with psql
-- -v spectrum_role_arn=... -v dbt_password=...; nothing secret is stored here).
-- 1. create database demo with owner admin;   then reconnect to demo.
-- 2. The external schema (stage_external_sources also creates it if missing):
create external schema if not exists tickit_external from data catalog
  database 'tickit_dbt'
  iam_role :'spectrum_role_arn'
  create external database if not exists;

create schema if not exists tickit_dbt;

create user dbt with password :'dbt_password' nocreatedb nocreateuser syslog access restricted
  connection limit 10;
create group dbt with user dbt;

grant usage, create on schema tickit_external to group dbt;
grant usage, create on schema tickit_dbt to group dbt;
grant all on all tables in schema tickit_external to group dbt;
grant all on all tables in schema tickit_dbt to group dbt;

-- Telemetry: `iot` (typed readings and their quarantine) and `sensor` (the star schema, and the
-- IoT dbt models beside it, as in the original). The loads create their tables; dbt its views.
create schema if not exists iot;
create schema if not exists sensor;
grant usage, create on schema iot to group dbt;
grant usage, create on schema sensor to group dbt;
grant all on all tables in schema iot to group dbt;
grant all on all tables in schema sensor to group dbt;

-- Creating external tables needs ownership of the external schema.
alter schema tickit_dbt owner to dbt;
alter schema tickit_external owner to dbt;
