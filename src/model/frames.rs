//! Grafana data frames and their Arrow IPC encoding (as Grafana's Go SDK writes and reads them); pure, no I/O.
//!
//! Schema metadata: `name`, `refId`, `meta` (JSON). Field metadata: `name`,
//! `labels` (JSON object) and `config` (JSON) — labels and config together on
//! one field both survive. Times are `Timestamp(Nanosecond)` in UTC.
//!
//! Grafana Live carries frames as JSON instead ([`Frame::to_json`]), in the shape of the Go SDK's
//! `data.Frame` JSON: `{"schema":{"name","refId","meta","fields":[{"name","type","typeInfo":{"frame",
//! "nullable"},"labels","config"}]},"data":{"values":[[…],…]}}`, times as epoch milliseconds.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
    TimestampNanosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field as ArrowField, Schema, TimeUnit};
use serde::Serialize;
use serde_json::Value;

/// Data-plane frame types used by this plugin (`meta.type`).
pub const NUMERIC_LONG: &str = "numeric-long";
pub const TIMESERIES_MULTI: &str = "timeseries-multi";
pub const TABLE: &str = "table";
/// Data-plane contract version (`meta.typeVersion`); non-zero so Grafana's alert engine takes the data-plane path.
pub const TYPE_VERSION: [u32; 2] = [0, 1];
/// Data-plane wide time series (`meta.type`): one time field, one numeric field per series.
pub const TIMESERIES_WIDE: &str = "timeseries-wide";

/// Column values of one field.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    String(Vec<String>),
    /// Strings as one contiguous Arrow column, built straight from borrowed strings (no
    /// allocation per row): for the columns of large answers.
    Utf8(StringArray),
    NullableString(Vec<Option<String>>),
    Float64(Vec<f64>),
    NullableFloat64(Vec<Option<f64>>),
    Int64(Vec<i64>),
    UInt64(Vec<u64>),
    Bool(Vec<bool>),
    NullableBool(Vec<Option<bool>>),
    /// Nanoseconds since the Unix epoch, UTC.
    Time(Vec<i64>),
    NullableTime(Vec<Option<i64>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::String(v) => v.len(),
            Values::Utf8(v) => arrow_array::Array::len(v),
            Values::NullableString(v) => v.len(),
            Values::Float64(v) => v.len(),
            Values::NullableFloat64(v) => v.len(),
            Values::Int64(v) => v.len(),
            Values::UInt64(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::NullableBool(v) => v.len(),
            Values::Time(v) => v.len(),
            Values::NullableTime(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Grafana's JSON field type, its Go type name, and whether values may be null.
    fn json_type(&self) -> (&'static str, &'static str, bool) {
        match self {
            Values::String(_) | Values::Utf8(_) => ("string", "string", false),
            Values::NullableString(_) => ("string", "string", true),
            Values::Float64(_) => ("number", "float64", false),
            Values::NullableFloat64(_) => ("number", "float64", true),
            Values::Int64(_) => ("number", "int64", false),
            Values::UInt64(_) => ("number", "uint64", false),
            Values::Bool(_) => ("boolean", "bool", false),
            Values::NullableBool(_) => ("boolean", "bool", true),
            Values::Time(_) => ("time", "time.Time", false),
            Values::NullableTime(_) => ("time", "time.Time", true),
        }
    }

    /// JSON values; times as epoch milliseconds, non-finite numbers as `null`.
    fn json_values(&self) -> Value {
        fn num(v: f64) -> Value {
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
        }
        fn millis(ns: i64) -> Value {
            Value::from(ns.div_euclid(1_000_000))
        }
        match self {
            Values::String(v) => Value::from(v.clone()),
            Values::Utf8(v) => v.iter().map(|s| Value::from(s.unwrap_or_default())).collect(),
            Values::NullableString(v) => Value::from(v.clone()),
            Values::Float64(v) => v.iter().copied().map(num).collect(),
            Values::NullableFloat64(v) => v.iter().map(|x| x.map_or(Value::Null, num)).collect(),
            Values::Int64(v) => Value::from(v.clone()),
            Values::UInt64(v) => Value::from(v.clone()),
            Values::Bool(v) => Value::from(v.clone()),
            Values::NullableBool(v) => Value::from(v.clone()),
            Values::Time(v) => v.iter().copied().map(millis).collect(),
            Values::NullableTime(v) => v.iter().map(|x| x.map_or(Value::Null, millis)).collect(),
        }
    }

    fn arrow(&self) -> (DataType, bool, ArrayRef) {
        match self {
            Values::String(v) => (DataType::Utf8, false, Arc::new(StringArray::from_iter_values(v))),
            Values::Utf8(v) => (DataType::Utf8, false, Arc::new(v.clone())),
            Values::NullableString(v) => (
                DataType::Utf8,
                true,
                Arc::new(v.iter().map(|s| s.as_deref()).collect::<StringArray>()),
            ),
            Values::Float64(v) => (DataType::Float64, false, Arc::new(Float64Array::from(v.clone()))),
            Values::NullableFloat64(v) => (DataType::Float64, true, Arc::new(Float64Array::from(v.clone()))),
            Values::Int64(v) => (DataType::Int64, false, Arc::new(Int64Array::from(v.clone()))),
            Values::UInt64(v) => (DataType::UInt64, false, Arc::new(UInt64Array::from(v.clone()))),
            Values::Bool(v) => (DataType::Boolean, false, Arc::new(BooleanArray::from(v.clone()))),
            Values::NullableBool(v) => (DataType::Boolean, true, Arc::new(BooleanArray::from(v.clone()))),
            Values::Time(v) => (
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                false,
                Arc::new(TimestampNanosecondArray::from(v.clone())),
            ),
            Values::NullableTime(v) => (
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                true,
                Arc::new(TimestampNanosecondArray::from(v.clone())),
            ),
        }
    }
}

/// Grafana field config (the subset this plugin sets).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name_from_ds: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mappings: Option<Value>,
}

impl FieldConfig {
    /// A config carrying only a unit.
    pub fn unit(unit: &str) -> Self {
        Self {
            unit: Some(unit.to_string()),
            ..Self::default()
        }
    }
}

/// One column.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub config: Option<FieldConfig>,
    pub values: Values,
}

impl Field {
    pub fn new(name: impl Into<String>, values: Values) -> Self {
        Self {
            name: name.into(),
            labels: BTreeMap::new(),
            config: None,
            values,
        }
    }

    pub fn with_config(mut self, config: FieldConfig) -> Self {
        self.config = Some(config);
        self
    }

    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }
}

/// Notice severity as Grafana's JSON spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// A message shown on the panel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notice {
    pub severity: Severity,
    pub text: String,
}

/// Frame metadata (`meta`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FrameMeta {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_version: Option<[u32; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executed_query_string: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_visualisation_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
}

impl FrameMeta {
    /// Meta of a data-plane frame type.
    pub fn typed(kind: &'static str) -> Self {
        Self {
            kind: Some(kind),
            type_version: Some(TYPE_VERSION),
            ..Self::default()
        }
    }
}

/// One data frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub name: String,
    pub ref_id: String,
    pub meta: Option<FrameMeta>,
    pub fields: Vec<Field>,
}

/// A frame that cannot be encoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("field '{field}' has {got} values, expected {want}")]
    Length { field: String, got: usize, want: usize },
    #[error("could not encode frame: {0}")]
    Encode(String),
}

impl Frame {
    pub fn new(name: impl Into<String>, ref_id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ref_id: ref_id.into(),
            meta: None,
            fields: Vec::new(),
        }
    }

    pub fn with_meta(mut self, meta: FrameMeta) -> Self {
        self.meta = Some(meta);
        self
    }

    pub fn with_field(mut self, field: Field) -> Self {
        self.fields.push(field);
        self
    }

    /// Rows (the length of the first field).
    pub fn rows(&self) -> usize {
        self.fields.first().map_or(0, |f| f.values.len())
    }

    /// The row count, once every field is checked to have exactly that many values.
    fn checked_rows(&self) -> Result<usize, FrameError> {
        let rows = self.rows();
        match self.fields.iter().find(|f| f.values.len() != rows) {
            Some(f) => Err(FrameError::Length {
                field: f.name.clone(),
                got: f.values.len(),
                want: rows,
            }),
            None => Ok(rows),
        }
    }

    /// Arrow IPC file bytes (`ARROW1`), one record batch.
    pub fn to_arrow(&self) -> Result<Vec<u8>, FrameError> {
        let rows = self.checked_rows()?;
        let mut fields = Vec::with_capacity(self.fields.len());
        let mut columns = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let (data_type, nullable, array) = f.values.arrow();
            let mut md = HashMap::with_capacity(3);
            md.insert("name".to_string(), f.name.clone());
            if !f.labels.is_empty() {
                md.insert("labels".to_string(), json(&f.labels)?);
            }
            if let Some(config) = &f.config {
                md.insert("config".to_string(), json(config)?);
            }
            fields.push(ArrowField::new(f.name.clone(), data_type, nullable).with_metadata(md));
            columns.push(array);
        }
        let mut md = HashMap::with_capacity(3);
        md.insert("name".to_string(), self.name.clone());
        md.insert("refId".to_string(), self.ref_id.clone());
        if let Some(meta) = &self.meta {
            md.insert("meta".to_string(), json(meta)?);
        }
        let schema = Arc::new(Schema::new_with_metadata(fields, md));
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let batch = RecordBatch::try_new_with_options(Arc::clone(&schema), columns, &options)
            .map_err(|e| FrameError::Encode(e.to_string()))?;
        let mut out = Vec::with_capacity(512 + rows * self.fields.len() * 16);
        {
            let mut w = arrow_ipc::writer::FileWriter::try_new(&mut out, &schema)
                .map_err(|e| FrameError::Encode(e.to_string()))?;
            w.write(&batch).map_err(|e| FrameError::Encode(e.to_string()))?;
            w.finish().map_err(|e| FrameError::Encode(e.to_string()))?;
        }
        Ok(out)
    }
}

/// Which parts of a frame [`Frame::to_json`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonParts {
    /// `schema` and `data`.
    All,
    /// `schema` only (no rows).
    SchemaOnly,
}

impl Frame {
    /// Grafana's data frame JSON (as Live carries it): `{"schema":{…},"data":{"values":[…]}}`.
    pub fn to_json(&self, parts: JsonParts) -> Result<Value, FrameError> {
        self.checked_rows()?;
        let mut fields = Vec::with_capacity(self.fields.len());
        let mut values = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let (kind, go, nullable) = f.values.json_type();
            let mut type_info = serde_json::Map::new();
            type_info.insert("frame".into(), Value::from(go));
            if nullable {
                type_info.insert("nullable".into(), Value::Bool(true));
            }
            let mut field = serde_json::Map::new();
            field.insert("name".into(), Value::from(f.name.clone()));
            field.insert("type".into(), Value::from(kind));
            field.insert("typeInfo".into(), Value::Object(type_info));
            if !f.labels.is_empty() {
                field.insert("labels".into(), serde_json::to_value(&f.labels).map_err(encode)?);
            }
            if let Some(config) = &f.config {
                field.insert("config".into(), serde_json::to_value(config).map_err(encode)?);
            }
            fields.push(Value::Object(field));
            values.push(f.values.json_values());
        }
        let mut schema = serde_json::Map::new();
        if !self.name.is_empty() {
            schema.insert("name".into(), Value::from(self.name.clone()));
        }
        if !self.ref_id.is_empty() {
            schema.insert("refId".into(), Value::from(self.ref_id.clone()));
        }
        if let Some(meta) = &self.meta {
            schema.insert("meta".into(), serde_json::to_value(meta).map_err(encode)?);
        }
        schema.insert("fields".into(), Value::Array(fields));
        let mut out = serde_json::Map::new();
        out.insert("schema".into(), Value::Object(schema));
        if parts == JsonParts::All {
            out.insert("data".into(), serde_json::json!({ "values": values }));
        }
        Ok(Value::Object(out))
    }
}

fn encode(e: serde_json::Error) -> FrameError {
    FrameError::Encode(e.to_string())
}

fn json<T: Serialize>(v: &T) -> Result<String, FrameError> {
    serde_json::to_string(v).map_err(|e| FrameError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    fn decode(bytes: &[u8]) -> (Arc<Schema>, RecordBatch) {
        assert_eq!(&bytes[..6], b"ARROW1");
        let mut r = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes.to_vec()), None).unwrap();
        let schema = r.schema();
        let batch = r.next().unwrap().unwrap();
        assert!(r.next().is_none());
        (schema, batch)
    }

    #[test]
    fn labels_and_config_survive_together() {
        let labels = BTreeMap::from([("service".to_string(), "orders".to_string())]);
        let frame = Frame::new("rtt", "A")
            .with_meta(FrameMeta::typed(TIMESERIES_MULTI))
            .with_field(Field::new("time", Values::Time(vec![1, 2])))
            .with_field(
                Field::new("rtt", Values::NullableFloat64(vec![Some(0.5), None]))
                    .with_labels(labels)
                    .with_config(FieldConfig::unit("ms")),
            );
        let (schema, batch) = decode(&frame.to_arrow().unwrap());
        assert_eq!(schema.metadata()["refId"], "A");
        assert_eq!(schema.metadata()["name"], "rtt");
        let meta: Value = serde_json::from_str(&schema.metadata()["meta"]).unwrap();
        assert_eq!(meta["type"], "timeseries-multi");
        assert_eq!(meta["typeVersion"], serde_json::json!([0, 1]));
        let f = schema.field(1);
        assert_eq!(f.metadata()["labels"], r#"{"service":"orders"}"#);
        assert_eq!(f.metadata()["config"], r#"{"unit":"ms"}"#);
        assert!(f.is_nullable());
        assert_eq!(
            schema.field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, None)
        );
        assert_eq!(batch.num_rows(), 2);
        assert!(batch.column(1).is_null(1));
    }

    #[test]
    fn a_contiguous_string_column_encodes_as_a_column_of_strings_does() {
        let words = ["orders", "", "ünïcode", "billing"];
        let frame = |values: Values| Frame::new("ping", "A").with_field(Field::new("service", values));
        let owned = frame(Values::String(words.iter().map(|s| s.to_string()).collect()));
        let contiguous = frame(Values::Utf8(StringArray::from_iter_values(words)));
        assert_eq!(contiguous.rows(), 4);
        assert_eq!(contiguous.to_arrow().unwrap(), owned.to_arrow().unwrap());
        assert_eq!(
            contiguous.to_json(JsonParts::All).unwrap(),
            owned.to_json(JsonParts::All).unwrap()
        );
    }

    #[test]
    fn empty_frames_and_length_mismatch() {
        let empty = Frame::new("x", "B").with_meta(FrameMeta::typed(NUMERIC_LONG));
        let (schema, batch) = decode(&empty.to_arrow().unwrap());
        assert_eq!(schema.fields().len(), 0);
        assert_eq!(batch.num_rows(), 0);
        let bad = Frame::new("x", "B")
            .with_field(Field::new("a", Values::Int64(vec![1])))
            .with_field(Field::new("b", Values::Int64(vec![])));
        assert!(matches!(bad.to_arrow(), Err(FrameError::Length { .. })));
    }

    #[test]
    fn json_frames_match_grafana_data_frame_json() {
        let labels = BTreeMap::from([("id".to_string(), "x".to_string())]);
        let frame = Frame::new("ping", "A")
            .with_meta(FrameMeta::typed(TIMESERIES_WIDE))
            .with_field(Field::new(
                "time",
                Values::Time(vec![1_700_000_000_123_456_789, 1_700_000_001_000_000_000]),
            ))
            .with_field(
                Field::new("orders/x", Values::NullableFloat64(vec![Some(0.25), None]))
                    .with_labels(labels)
                    .with_config(FieldConfig::unit("ms")),
            )
            .with_field(Field::new("n", Values::Float64(vec![f64::NAN, 2.0])));
        let v = frame.to_json(JsonParts::All).unwrap();
        assert_eq!(v["schema"]["name"], "ping");
        assert_eq!(v["schema"]["refId"], "A");
        assert_eq!(v["schema"]["meta"]["type"], "timeseries-wide");
        let f = &v["schema"]["fields"];
        assert_eq!(
            f[0],
            serde_json::json!({"name":"time","type":"time","typeInfo":{"frame":"time.Time"}})
        );
        assert_eq!(
            f[1],
            serde_json::json!({"name":"orders/x","type":"number","typeInfo":{"frame":"float64","nullable":true},
                "labels":{"id":"x"},"config":{"unit":"ms"}})
        );
        assert_eq!(
            v["data"]["values"],
            serde_json::json!([
                [1_700_000_000_123_i64, 1_700_000_001_000_i64],
                [0.25, null],
                [null, 2.0]
            ])
        );
        let schema_only = frame.to_json(JsonParts::SchemaOnly).unwrap();
        assert!(schema_only.get("data").is_none());
        let bad = Frame::new("x", "B")
            .with_field(Field::new("a", Values::Int64(vec![1])))
            .with_field(Field::new("b", Values::Int64(vec![])));
        assert!(matches!(bad.to_json(JsonParts::All), Err(FrameError::Length { .. })));
    }

    #[test]
    fn notices_serialise_as_grafana_expects() {
        let meta = FrameMeta {
            notices: vec![Notice {
                severity: Severity::Warning,
                text: "t".into(),
            }],
            ..FrameMeta::typed(TABLE)
        };
        let v = serde_json::to_value(&meta).unwrap();
        assert_eq!(v["notices"][0]["severity"], "warning");
        assert_eq!(v["type"], "table");
        assert!(v.get("channel").is_none());
    }
}
