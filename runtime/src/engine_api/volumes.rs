//! `/volumes` endpoints.

use super::response::Reply;
use super::router::Call;

/// None: not an endpoint of this module.
pub fn handle(_call: &Call) -> Option<Reply> {
    None
}
