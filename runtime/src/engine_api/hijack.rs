//! Hijacked connections (attach, exec start): the answer is `101 UPGRADED` with Docker's
//! stream content type, after which the connection carries the process's stdio both ways.
//! A client that did not ask for the upgrade gets the output as a streamed body instead.

use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;

use super::response::{self, Reply};
use super::router::Call;

/// The client's side of a hijacked connection.
pub type Io = TokioIo<Upgraded>;

pub async fn handle(call: Call, upgrade: OnUpgrade) -> Reply {
    let upgrade = call.headers.get(UPGRADE).is_some().then_some(upgrade);
    if call.path.starts_with("/containers/") {
        super::attach::attach(call, upgrade).await
    } else {
        super::exec::start(call, upgrade).await
    }
}

/// The `101 UPGRADED` answer.
pub fn switching(content_type: &'static str) -> Reply {
    let mut r = response::empty(StatusCode::SWITCHING_PROTOCOLS);
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("tcp"));
    r
}

/// The upgraded connection, once the 101 has gone out.
pub async fn connection(upgrade: OnUpgrade) -> Option<Io> {
    match upgrade.await {
        Ok(upgraded) => Some(TokioIo::new(upgraded)),
        Err(e) => {
            tracing::debug!(error = %e, "connection not upgraded");
            None
        }
    }
}
