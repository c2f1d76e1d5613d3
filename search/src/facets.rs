//! Facet counts: how the records matching a search divide by kind, status, sector, region and
//! organisation, counted over every match, not just the hits shown.

use serde_json::{Value, json};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector, AggregationLimitsGuard};
use tantivy::query::Query;

use crate::{Index, IndexError};

/// The fields counted, in display order. Values are counted in lower case.
pub const FACET_FIELDS: [&str; 5] = ["kind", "status", "sector", "region", "organisation"];
/// Most values reported per field; the rest are summed in [`Facet::other`].
const VALUES_PER_FIELD: u32 = 20;

/// Counts for one field, most common value first.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Facet {
    pub field: String,
    pub values: Vec<(String, u64)>,
    /// Matching records with a value not listed (beyond the most common ones).
    pub other: u64,
}

fn internal(reason: String) -> IndexError {
    IndexError::Tantivy(tantivy::TantivyError::InternalError(reason))
}

pub(crate) fn count(index: &Index, query: &dyn Query) -> Result<Vec<Facet>, IndexError> {
    let results = index.searcher().search(query, &collector(index)?)?;
    read(results)
}

/// The collector that counts every match's facet values.
pub(crate) fn collector(index: &Index) -> Result<AggregationCollector, IndexError> {
    let request: serde_json::Map<String, Value> = FACET_FIELDS
        .iter()
        .map(|field| {
            (
                field.to_string(),
                json!({ "terms": { "field": field, "size": VALUES_PER_FIELD } }),
            )
        })
        .collect();
    let request: Aggregations =
        serde_json::from_value(Value::Object(request)).map_err(|e| internal(e.to_string()))?;
    let context = AggContextParams::new(
        AggregationLimitsGuard::default(),
        index.tantivy().tokenizers().clone(),
    );
    Ok(AggregationCollector::from_aggs(request, context))
}

/// The counts, from what [`collector`] collected.
pub(crate) fn read(
    results: tantivy::aggregation::agg_result::AggregationResults,
) -> Result<Vec<Facet>, IndexError> {
    let results = serde_json::to_value(&results).map_err(|e| internal(e.to_string()))?;
    Ok(FACET_FIELDS
        .iter()
        .map(|&field| {
            let result = &results[field];
            let values = result["buckets"]
                .as_array()
                .map(|buckets| {
                    buckets
                        .iter()
                        .filter_map(|bucket| {
                            let key = bucket["key"].as_str()?.to_string();
                            Some((key, bucket["doc_count"].as_u64()?))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Facet {
                field: field.to_string(),
                values,
                other: result["sum_other_doc_count"].as_u64().unwrap_or(0),
            }
        })
        .collect())
}
