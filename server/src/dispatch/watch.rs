//! The live board for one watcher: the stored events after its cursor, then the live ones,
//! resuming from the table when the watcher falls behind the broadcast.

use std::sync::Arc;

use onsite_proto::v1 as pb;
use sea_orm::DatabaseConnection;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::Dispatch;
use crate::error::{Error, Result};
use crate::feed;
use crate::repo::board;
use crate::store::entities::board_event;

/// Board events read per query when a watcher catches up from the table.
const REPLAY_PAGE: u64 = 500;

/// Events of the board after `cursor` (empty: from now), until the watcher goes away or
/// `stop` turns true. A cursor older than the kept events is `CURSOR_EXPIRED`.
pub async fn start(
    db: DatabaseConnection,
    dispatch: &Dispatch,
    cursor: &str,
    stop: watch::Receiver<bool>,
) -> Result<ReceiverStream<Result<pb::BoardEvent>>> {
    // Subscribe before reading the table, so nothing committed in between is missed.
    let live = dispatch.subscribe();
    let cursor = cursor.trim();
    let after = if cursor.is_empty() {
        dispatch.applied().await
    } else {
        let seq: i64 = cursor.parse().map_err(|_| Error::invalid("cursor", "is not a board cursor"))?;
        let oldest = board::oldest(&db).await?;
        if oldest.is_some_and(|oldest| seq + 1 < oldest) {
            return Err(Error::precondition(
                "CURSOR_EXPIRED",
                "events after this cursor were pruned; reload the board and watch from now",
            ));
        }
        seq
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(stream(db, after, live, tx, stop));
    Ok(ReceiverStream::new(rx))
}

/// Sends the stored events after `after`, then live ones, until the client goes away or the
/// server stops. A watcher that falls behind the broadcast reads the table again.
async fn stream(
    db: DatabaseConnection,
    mut after: i64,
    mut live: broadcast::Receiver<Arc<board_event::Model>>,
    tx: mpsc::Sender<Result<pb::BoardEvent>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        // Catch up from the table.
        loop {
            let events = match board::after(&db, after, REPLAY_PAGE).await {
                Ok(events) => events,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let done = (events.len() as u64) < REPLAY_PAGE;
            for event in &events {
                if feed::on_board(event) && tx.send(feed::to_wire(event)).await.is_err() {
                    return;
                }
                after = event.seq;
            }
            if done {
                break;
            }
        }
        // Then live.
        loop {
            let next = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                () = tx.closed() => return,
                next = live.recv() => next,
            };
            match next {
                Ok(event) if event.seq <= after => {}
                Ok(event) => {
                    if feed::on_board(&event) && tx.send(feed::to_wire(&event)).await.is_err() {
                        return;
                    }
                    after = event.seq;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
