//! Data responses decoded with arrow-rs' IPC reader (independent of how the plugin wrote them), and the checks Grafana's alert engine applies to frames.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use arrow_array::{Array, RecordBatch};
use grafana_plugin_sdk::pluginv2::{self};
use serde_json::{json, Value};

/// A decoded data response.
#[derive(Debug)]
pub struct Response {
    pub error: String,
    pub status: i32,
    pub frames: Vec<DecodedFrame>,
}

impl Response {
    pub fn decode(r: pluginv2::DataResponse) -> Result<Self> {
        Ok(Self {
            error: r.error,
            status: r.status,
            frames: r.frames.iter().map(|b| decode_frame(b)).collect::<Result<_>>()?,
        })
    }

    pub fn frame(&self) -> &DecodedFrame {
        assert!(self.error.is_empty(), "unexpected error: {}", self.error);
        assert_eq!(self.frames.len(), 1, "expected one frame");
        &self.frames[0]
    }
}

#[derive(Debug)]
pub struct DecodedField {
    pub name: String,
    pub data_type: arrow_schema::DataType,
    pub nullable: bool,
    pub labels: Option<Value>,
    pub config: Option<Value>,
    pub values: Vec<Value>,
}

#[derive(Debug)]
pub struct DecodedFrame {
    pub name: String,
    pub ref_id: String,
    pub meta: Value,
    pub fields: Vec<DecodedField>,
}

impl DecodedFrame {
    pub fn field(&self, name: &str) -> &DecodedField {
        self.fields.iter().find(|f| f.name == name).unwrap_or_else(|| {
            panic!(
                "no field {name} in {:?}",
                self.fields.iter().map(|f| &f.name).collect::<Vec<_>>()
            )
        })
    }
    pub fn rows(&self) -> usize {
        self.fields.first().map_or(0, |f| f.values.len())
    }
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.field(name)
            .values
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    }
    pub fn numbers(&self, name: &str) -> Vec<Option<f64>> {
        self.field(name).values.iter().map(Value::as_f64).collect()
    }
    pub fn numeric_fields(&self) -> Vec<&DecodedField> {
        self.fields
            .iter()
            .filter(|f| {
                matches!(
                    f.data_type,
                    arrow_schema::DataType::Float64 | arrow_schema::DataType::Int64 | arrow_schema::DataType::UInt64
                )
            })
            .collect()
    }
}

/// Decode one frame with arrow-rs' IPC file reader (independent of how it was written).
pub fn decode_frame(bytes: &[u8]) -> Result<DecodedFrame> {
    if bytes.len() < 6 || &bytes[..6] != b"ARROW1" {
        bail!("frame is not an Arrow IPC file");
    }
    let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes.to_vec()), None)?;
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>()?;
    let md = schema.metadata();
    let mut fields = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        let mut values = Vec::new();
        for b in &batches {
            let col = b.column(i);
            for row in 0..col.len() {
                values.push(cell(col.as_ref(), row));
            }
        }
        let parse = |k: &str| {
            f.metadata()
                .get(k)
                .map(|s| serde_json::from_str::<Value>(s))
                .transpose()
        };
        fields.push(DecodedField {
            name: f.metadata().get("name").cloned().unwrap_or_else(|| f.name().clone()),
            data_type: f.data_type().clone(),
            nullable: f.is_nullable(),
            labels: parse("labels")?,
            config: parse("config")?,
            values,
        });
    }
    Ok(DecodedFrame {
        name: md.get("name").cloned().unwrap_or_default(),
        ref_id: md.get("refId").cloned().unwrap_or_default(),
        meta: md
            .get("meta")
            .map(|m| serde_json::from_str(m))
            .transpose()?
            .unwrap_or(Value::Null),
        fields,
    })
}

fn cell(col: &dyn Array, row: usize) -> Value {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_schema::DataType as T;
    if col.is_null(row) {
        return Value::Null;
    }
    match col.data_type() {
        T::Utf8 => json!(col.as_string::<i32>().value(row)),
        T::Float64 => json!(col.as_primitive::<Float64Type>().value(row)),
        T::Int64 => json!(col.as_primitive::<Int64Type>().value(row)),
        T::UInt64 => json!(col.as_primitive::<UInt64Type>().value(row)),
        T::Boolean => json!(col.as_boolean().value(row)),
        T::Timestamp(_, _) => json!(col.as_primitive::<TimestampNanosecondType>().value(row)),
        other => json!(format!("<{other}>")),
    }
}

/// Whether a frame is acceptable to Grafana's alert engine (notes: data-plane typed, or a
/// number table: exactly one numeric field and only string fields otherwise).
pub fn alertable_instant(frame: &DecodedFrame) -> bool {
    let typed = frame.meta["type"] == "numeric-long" && frame.meta["typeVersion"] != json!([0, 0]);
    let numeric = frame.numeric_fields().len();
    let others_strings = frame.fields.iter().all(|f| {
        matches!(
            f.data_type,
            arrow_schema::DataType::Utf8 | arrow_schema::DataType::Float64
        )
    });
    typed
        && numeric == 1
        && others_strings
        && !frame
            .fields
            .iter()
            .any(|f| matches!(f.data_type, arrow_schema::DataType::Timestamp(_, _)))
}

/// Whether a set of frames is acceptable to Grafana's alert engine as time series (notes: the
/// data-plane path for `timeseries-multi` with a non-zero typeVersion): every frame typed, with
/// exactly one time field (ns timestamps) and one numeric field, no string fields, and label
/// sets unique across frames (each becomes one alert instance after a Reduce expression). A
/// single frame without fields is the data-plane "no data".
pub fn alertable_timeseries(frames: &[DecodedFrame]) -> bool {
    let typed = |f: &DecodedFrame| f.meta["type"] == "timeseries-multi" && f.meta["typeVersion"] != json!([0, 0]);
    if frames.len() == 1 && frames[0].fields.is_empty() {
        return typed(&frames[0]);
    }
    let mut labels = std::collections::BTreeSet::new();
    frames.iter().all(|f| {
        let times = f
            .fields
            .iter()
            .filter(|x| {
                matches!(
                    x.data_type,
                    arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, _)
                )
            })
            .count();
        let numeric = f.numeric_fields();
        typed(f)
            && f.fields.len() == 2
            && times == 1
            && numeric.len() == 1
            && labels.insert(numeric[0].labels.clone().unwrap_or(Value::Null).to_string())
    })
}

/// Grafana's Reduce expression ("last", dropping non-numbers) over each series: label set → value.
pub fn reduce_last(frames: &[DecodedFrame]) -> BTreeMap<String, Option<f64>> {
    frames
        .iter()
        .filter(|f| !f.fields.is_empty())
        .map(|f| {
            let v = f.numeric_fields()[0];
            let last = v.values.iter().rev().find_map(Value::as_f64);
            (v.labels.clone().unwrap_or(Value::Null).to_string(), last)
        })
        .collect()
}
