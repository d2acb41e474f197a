create or replace view "federated"."artworks_per_nationality" as select "nationality", "artworks", "artists" from read_parquet('s3://acme-lake/prod/federated/artworks_per_nationality/**/*.parquet')
