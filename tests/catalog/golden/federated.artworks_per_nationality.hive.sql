CREATE EXTERNAL TABLE `federated`.`artworks_per_nationality` (
  `nationality` string,
  `artworks` bigint,
  `artists` bigint
)
COMMENT 'Artworks in the lake (moma_cow.artworks) per nationality of their artist in the live source database (public.artists): the federated join of the original demo.'
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION 's3://acme-lake/prod/federated/artworks_per_nationality/'
TBLPROPERTIES ('classification'='parquet')
