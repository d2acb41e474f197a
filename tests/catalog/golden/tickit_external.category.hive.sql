CREATE EXTERNAL TABLE `tickit_external`.`category` (
  `catid` int,
  `catgroup` varchar(20),
  `catname` varchar(20),
  `catdesc` varchar(50)
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'
WITH SERDEPROPERTIES ('field.delim'='|', 'serialization.format'='|')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://acme-lake/prod/raw_tickit_data/category/'
TBLPROPERTIES ('classification'='csv', 'skip.header.line.count'='1')
