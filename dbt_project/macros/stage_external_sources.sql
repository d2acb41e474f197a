{#
  Registers every source table that has an `external:` block, replacing the dbt_external_tables
  package (dbt Hub is not reachable). Redshift: Spectrum external tables over the raw files in
  S3. DuckDB: views over the same files, with the same column types.

    dbt run-operation stage_external_sources [--vars '{ext_full_refresh: true}']
#}

{% macro stage_external_sources(select=none) %}
  {% set nodes = [] %}
  {% for node in graph.sources.values() | sort(attribute='unique_id') %}
    {% set name = node.source_name ~ '.' ~ node.name %}
    {% if node.external and node.external.location and (select is none or name in select.split(' ')) %}
      {% do nodes.append(node) %}
    {% endif %}
  {% endfor %}
  {% for schema in nodes | map(attribute='schema') | unique %}
    {% do adapter.dispatch('create_external_schema', 'lakehouse')(schema) %}
  {% endfor %}
  {% for node in nodes %}
    {% do adapter.dispatch('stage_external_source', 'lakehouse')(node) %}
  {% endfor %}
  {{ log('staged external sources: ' ~ nodes | map(attribute='name') | join(', '), info=true) }}
{% endmacro %}


{# ---- column lists ---- #}

{% macro external_columns(node) %}
  {%- for col in node.columns.values() -%}
    {{ adapter.quote(col.name) }} {{ col.data_type }}{{ ",\n    " if not loop.last }}
  {%- endfor -%}
{% endmacro %}


{# ---- Redshift Spectrum ---- #}

{% macro redshift__create_external_schema(schema) %}
  {% set role = env_var('REDSHIFT_SPECTRUM_ROLE_ARN') %}
  {% set glue_db = var('glue_database', 'tickit_dbt') %}
  {% do run_query(lakehouse.redshift_external_schema_ddl(schema, glue_db, role)) %}
{% endmacro %}

{% macro redshift_external_schema_ddl(schema, glue_db, role) -%}
create external schema if not exists {{ adapter.quote(schema) }}
from data catalog
database '{{ glue_db }}'
iam_role '{{ role }}'
create external database if not exists
{%- endmacro %}

{% macro redshift__stage_external_source(node) %}
  {% set relation = adapter.quote(node.schema) ~ '.' ~ adapter.quote(node.identifier) %}
  {% set exists_sql %}
    select count(*) from svv_external_tables
    where schemaname = '{{ node.schema }}' and tablename = '{{ node.identifier }}'
  {% endset %}
  {% set exists = run_query(exists_sql).columns[0].values()[0] > 0 %}
  {% if exists and not var('ext_full_refresh', false) %}
    {{ log('external table ' ~ relation ~ ' exists; skipping (ext_full_refresh: true re-creates it)', info=true) }}
  {% else %}
    {% if exists %}
      {% do run_query('drop table ' ~ relation) %}
    {% endif %}
    {# External DDL cannot run in a transaction block: the redshift target uses autocommit. #}
    {% do run_query(lakehouse.redshift_external_table_ddl(node)) %}
  {% endif %}
  {% for partition in node.external.partitions or [] %}
    {% do run_query(lakehouse.redshift_add_partition_ddl(node, partition)) %}
  {% endfor %}
{% endmacro %}

{% macro redshift_external_table_ddl(node) -%}
create external table {{ adapter.quote(node.schema) }}.{{ adapter.quote(node.identifier) }} (
    {{ lakehouse.external_columns(node) }}
)
{%- if node.external.partitions %}
partitioned by ({% for p in node.external.partitions %}{{ adapter.quote(p.name) }} {{ p.data_type }}{{ ", " if not loop.last }}{% endfor %})
{%- endif %}
row format {{ node.external.row_format }}
stored as textfile
location '{{ node.external.location }}'
table properties {{ node.external.table_properties }}
{%- endmacro %}

{% macro redshift_add_partition_ddl(node, partition) -%}
alter table {{ adapter.quote(node.schema) }}.{{ adapter.quote(node.identifier) }}
add if not exists partition ({{ adapter.quote(partition.name) }} = '{{ partition.value }}')
location '{{ partition.location }}'
{%- endmacro %}


{# ---- DuckDB (local) ---- #}

{% macro duckdb__create_external_schema(schema) %}
  {% do run_query('create schema if not exists ' ~ adapter.quote(schema)) %}
{% endmacro %}

{% macro duckdb__stage_external_source(node) %}
  {% do run_query(lakehouse.duckdb_external_view_ddl(node)) %}
{% endmacro %}

{#- Same parsing rules as the Spectrum tables: fields delimited by '|', one header line. -#}
{% macro duckdb_external_view_ddl(node) -%}
create or replace view {{ adapter.quote(node.schema) }}.{{ adapter.quote(node.identifier) }} as
select * from read_csv(
    '{{ node.external.location }}*.txt',
    delim = '|', quote = '"', escape = '\', header = true, auto_detect = false,
    strict_mode = true, null_padding = false,
    dateformat = '%Y-%m-%d', timestampformat = '%Y-%m-%d %H:%M:%S',
    columns = {
    {%- for col in node.columns.values() %}
        '{{ col.name }}': '{{ col.data_type }}'{{ "," if not loop.last }}
    {%- endfor %}
    }
)
{%- endmacro %}
