CREATE EXTERNAL TABLE `iot_landing`.`telemetry` (
  `device_id` string,
  `gateway_id` string,
  `temperature` double,
  `humidity` double,
  `pressure` double,
  `red` double,
  `green` double,
  `blue` double,
  `ambient` double,
  `ts` double,
  `schema_version` int,
  `msg_id` string,
  `rssi` int,
  `snr` int,
  `device` string,
  `msg_received` string,
  `payload_error` string,
  `payload` string
)
COMMENT 'Gateway messages as the IoT rule flattened them, as Firehose landed them (gzip JSON lines, UTC arrival hour).'
PARTITIONED BY (`year` string, `month` string, `day` string, `hour` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://acme-lake/prod/message/'
TBLPROPERTIES ('classification'='json', 'compressionType'='gzip')
