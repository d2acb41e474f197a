CREATE EXTERNAL TABLE `moma_mor`.`artworks_ro` (
  `_hoodie_commit_time` string,
  `_hoodie_commit_seqno` string,
  `_hoodie_record_key` string,
  `_hoodie_partition_path` string,
  `_hoodie_file_name` string,
  `artwork_id` int,
  `title` string,
  `artist_id` int,
  `name` string,
  `date` int,
  `medium` string,
  `dimensions` string,
  `acquisition_date` string,
  `credit` string,
  `catalogue` string,
  `department` string,
  `object_number` string,
  `diameter_cm` string,
  `circumference_cm` string,
  `height_cm` string,
  `length_cm` string,
  `width_cm` string,
  `depth_cm` string,
  `weight_kg` string,
  `durations` int,
  `__op` string,
  `__db` string,
  `__table` string,
  `__schema` string,
  `__lsn` bigint,
  `__source_ts_ms` bigint,
  `__deleted` string
)
COMMENT 'Apache Hudi table moma_mor.artworks'
PARTITIONED BY (`classification` string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
WITH SERDEPROPERTIES ('path'='s3://acme-lake/prod/hudi/moma_mor/artworks', 'hoodie.query.as.ro.table'='true')
STORED AS INPUTFORMAT 'org.apache.hudi.hadoop.HoodieParquetInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION 's3://acme-lake/prod/hudi/moma_mor/artworks'
TBLPROPERTIES ('spark.sql.sources.provider'='hudi', 'spark.sql.sources.schema.numParts'='1', 'spark.sql.sources.schema.part.0'='{"type":"struct","fields":[{"name":"_hoodie_commit_time","type":"string","nullable":true,"metadata":{}},{"name":"_hoodie_commit_seqno","type":"string","nullable":true,"metadata":{}},{"name":"_hoodie_record_key","type":"string","nullable":true,"metadata":{}},{"name":"_hoodie_partition_path","type":"string","nullable":true,"metadata":{}},{"name":"_hoodie_file_name","type":"string","nullable":true,"metadata":{}},{"name":"artwork_id","type":"integer","nullable":true,"metadata":{}},{"name":"title","type":"string","nullable":true,"metadata":{}},{"name":"artist_id","type":"integer","nullable":true,"metadata":{}},{"name":"name","type":"string","nullable":true,"metadata":{}},{"name":"date","type":"integer","nullable":true,"metadata":{}},{"name":"medium","type":"string","nullable":true,"metadata":{}},{"name":"dimensions","type":"string","nullable":true,"metadata":{}},{"name":"acquisition_date","type":"string","nullable":true,"metadata":{}},{"name":"credit","type":"string","nullable":true,"metadata":{}},{"name":"catalogue","type":"string","nullable":true,"metadata":{}},{"name":"department","type":"string","nullable":true,"metadata":{}},{"name":"object_number","type":"string","nullable":true,"metadata":{}},{"name":"diameter_cm","type":"string","nullable":true,"metadata":{}},{"name":"circumference_cm","type":"string","nullable":true,"metadata":{}},{"name":"height_cm","type":"string","nullable":true,"metadata":{}},{"name":"length_cm","type":"string","nullable":true,"metadata":{}},{"name":"width_cm","type":"string","nullable":true,"metadata":{}},{"name":"depth_cm","type":"string","nullable":true,"metadata":{}},{"name":"weight_kg","type":"string","nullable":true,"metadata":{}},{"name":"durations","type":"integer","nullable":true,"metadata":{}},{"name":"__op","type":"string","nullable":true,"metadata":{}},{"name":"__db","type":"string","nullable":true,"metadata":{}},{"name":"__table","type":"string","nullable":true,"metadata":{}},{"name":"__schema","type":"string","nullable":true,"metadata":{}},{"name":"__lsn","type":"long","nullable":true,"metadata":{}},{"name":"__source_ts_ms","type":"long","nullable":true,"metadata":{}},{"name":"__deleted","type":"string","nullable":true,"metadata":{}},{"name":"classification","type":"string","nullable":true,"metadata":{}}]}', 'spark.sql.sources.schema.numPartCols'='1', 'spark.sql.sources.schema.partCol.0'='classification', 'last_commit_time_sync'='20260301101500123')
