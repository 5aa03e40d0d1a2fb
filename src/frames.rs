//! Grafana data frames and their Arrow IPC encoding (as Grafana's Go SDK writes and reads them); pure, no I/O.
//!
//! Schema metadata: `name`, `refId`, `meta` (JSON). Field metadata: `name`,
//! `labels` (JSON object) and `config` (JSON) — labels and config together on
//! one field both survive. Times are `Timestamp(Nanosecond)` in UTC.

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

/// Column values of one field.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    String(Vec<String>),
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

    fn arrow(&self) -> (DataType, bool, ArrayRef) {
        match self {
            Values::String(v) => (DataType::Utf8, false, Arc::new(StringArray::from_iter_values(v))),
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

    /// Arrow IPC file bytes (`ARROW1`), one record batch.
    pub fn to_arrow(&self) -> Result<Vec<u8>, FrameError> {
        let rows = self.rows();
        let mut fields = Vec::with_capacity(self.fields.len());
        let mut columns = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            if f.values.len() != rows {
                return Err(FrameError::Length {
                    field: f.name.clone(),
                    got: f.values.len(),
                    want: rows,
                });
            }
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
