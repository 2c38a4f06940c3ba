//! `GET /events?since=&until=&filters=`: the events journal as Docker's JSON stream, the
//! stored range first, then new events as they happen (the journal `ebrun events` reads).

use hyper::StatusCode;

use super::response::{self, Reply};
use super::router::Call;
use crate::events::Filters;

pub fn events(call: &Call) -> Reply {
    let (since, until) = match (call.query.time("since"), call.query.time("until")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let given = match call.query.filters() {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let flags: Vec<String> = given.pairs().map(|(k, v)| format!("{k}={v}")).collect();
    let filters = match Filters::parse(&flags) {
        Ok(f) => f,
        Err(e) => return response::error(StatusCode::BAD_REQUEST, e),
    };
    let paths = call.paths.clone();
    response::streamed("application/json", move |out| {
        let sent = crate::events::follow(&paths, since, until, &filters, |e| {
            serde_json::to_value(e).is_ok_and(|v| out.send_json(&v))
        });
        if let Err(e) = sent {
            tracing::debug!(error = %e, "events stream");
        }
    })
}
