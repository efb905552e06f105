//! Paginated lists: `?after=CURSOR&limit=N` in, `{items, next}` out.

use serde::{Deserialize, Serialize};

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; null on the last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page of `items`, which has a next page when it is full.
    pub fn new(items: Vec<T>, limit: Option<i64>, cursor: impl Fn(&T) -> String) -> Self {
        Self::cut(items, limit, false, cursor)
    }

    /// A page of `items`, which has a next page when it is full or was `cut` short of
    /// its limit.
    pub fn cut(
        items: Vec<T>,
        limit: Option<i64>,
        cut: bool,
        cursor: impl Fn(&T) -> String,
    ) -> Self {
        let full = i64::try_from(items.len()).unwrap_or(i64::MAX)
            >= limit.unwrap_or(100).clamp(1, crate::store::MAX_PAGE);
        let next = if full || cut {
            items.last().map(&cursor)
        } else {
            None
        };
        Self { items, next }
    }
}

/// The paging part of a list's query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// How many items at most (1–500, default 100).
    pub limit: Option<i64>,
}

/// A numeric cursor, or a clear error.
pub fn numeric_cursor(after: Option<&str>) -> Result<Option<i64>, super::ApiError> {
    after
        .map(|text| {
            text.parse::<i64>().map_err(|_| {
                super::ApiError::BadRequest(format!(
                    "`after` must be the `next` of a previous page; `{text}` is not one"
                ))
            })
        })
        .transpose()
}
