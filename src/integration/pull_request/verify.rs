//! A pull request's head, verified by the launcher (issue 73 item 5): once
//! a pull request is opened or gets new work, the landing checks of its
//! department run on the head's tree, confined as a Merge's candidate's
//! are (`crate::landing`), and the verdict is posted on the head as the
//! commit status `governance/verify` (pending, then success or failure with
//! the failing command). The forge's own checks follow it as any CI's: a
//! red one can send the work back. Audited as a landing's run
//! (`landing_verified` with the head, or `landing_failed`).

use std::sync::Arc;

use crate::context::Context;
use crate::forge::{CommitStatus, Setup};
use crate::model::AuditEvent;
use crate::policy::landing::Checks;
use crate::sessions::Sessions;

/// The status's context on the forge.
pub const CONTEXT: &str = "governance/verify";

/// Starts the verification of `head` for department `id`'s pull request in
/// the background, when its department has landing checks.
pub(super) fn start(
    ctx: &Arc<Context>,
    sessions: &Arc<Sessions>,
    setup: &Setup,
    id: &str,
    head: &str,
) {
    let Some(s) = sessions.session(id) else {
        return;
    };
    let Checks::Run(commands) = crate::integration::landing::checks_of(ctx, &s) else {
        return;
    };
    let (ctx2, sessions, setup) = (Arc::clone(ctx), Arc::clone(sessions), setup.clone());
    let (id, head) = (id.to_string(), head.to_string());
    ctx.spawn(async move { verify(ctx2, sessions, setup, id, head, commands).await });
}

async fn verify(
    ctx: Arc<Context>,
    sessions: Arc<Sessions>,
    setup: Setup,
    id: String,
    head: String,
    commands: Vec<String>,
) {
    post(&setup, &head, "pending", "the launcher runs its checks").await;
    let live = Arc::clone(&sessions);
    let run = {
        let (ctx, id, head, commands) =
            (Arc::clone(&ctx), id.clone(), head.clone(), commands.clone());
        tokio::task::spawn_blocking(move || {
            let tree = tree_of(&ctx.repo, &head)?;
            let stopping = move || sessions.live.is_stopping();
            let verdict = crate::landing::verify(
                &ctx,
                &crate::landing::Candidate {
                    session: &id,
                    tree: &tree,
                    commands: &commands,
                    stopping: &stopping,
                    on_command: &|_| {},
                },
            )?;
            Ok::<_, NotRun>((tree, verdict))
        })
        .await
    };
    let (tree, verdict) = match run {
        Ok(Ok(done)) => done,
        Ok(Err(why)) => {
            post(&setup, &head, "error", &why.to_string()).await;
            return;
        }
        Err(e) => {
            post(&setup, &head, "error", &format!("the checks stopped: {e}")).await;
            return;
        }
    };
    if live.live.is_stopping() {
        // Cut by the stop: no verdict; its status stays pending.
        return;
    }
    let event = match &verdict.failure {
        None => AuditEvent::LandingVerified {
            session_id: id.clone(),
            commit: Some(head.clone()),
            tree,
            commands,
            exit: 0,
            seconds: verdict.seconds,
        },
        Some(failure) => AuditEvent::LandingFailed {
            session_id: id.clone(),
            tree,
            commands,
            failure: failure.clone(),
            seconds: verdict.seconds,
        },
    };
    ctx.store.audit_or_log(event);
    match &verdict.failure {
        None => post(&setup, &head, "success", "the launcher's checks passed").await,
        Some(failure) => post(&setup, &head, "failure", failure).await,
    }
}

/// Why a head's checks did not run.
#[derive(Debug, thiserror::Error)]
enum NotRun {
    #[error("the head cannot be read: {0}")]
    Head(#[from] git2::Error),
    #[error(transparent)]
    Landing(#[from] crate::landing::LandingError),
}

/// The tree of commit `head` in the user's repository.
fn tree_of(repo: &std::path::Path, head: &str) -> Result<String, git2::Error> {
    let git = git2::Repository::open(repo)?;
    let commit = git.find_commit(git2::Oid::from_str(head)?)?;
    Ok(commit.tree_id().to_string())
}

async fn post(setup: &Setup, head: &str, state: &'static str, description: &str) {
    let status = CommitStatus {
        state,
        description: description.to_string(),
        context: CONTEXT,
    };
    if let Err(e) = setup.forge.set_status(head.to_string(), status).await {
        tracing::warn!("the {CONTEXT} status of {head} ({state}): {e}");
    }
}
