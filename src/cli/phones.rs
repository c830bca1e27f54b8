//! `codex-governance pair-phone`: pairs a phone through the running
//! launcher (served with `--allow-host`) and prints the page's address for
//! it with its QR code, once.

use std::process::ExitCode;

use crate::{fail, out, refused_in_agent_session, state_dir_of};
use codex_governance::instance;

use crate::PairPhoneArgs;

pub fn pair_phone(args: PairPhoneArgs) -> ExitCode {
    if let Some(refused) = refused_in_agent_session("pair-phone", "a phone's token") {
        return refused;
    }
    let dir = match state_dir_of(&args.locate.repo, args.locate.state_dir) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    let Some(launcher) = instance::running(&dir) else {
        return fail(&format!(
            "no launcher runs on {}: start it with --allow-host NAME, then pair the phone",
            dir.display()
        ));
    };
    let body = serde_json::json!({ "label": args.label });
    let answer = match codex_governance::launcher_client::post(&launcher, "/api/phones/pair", &body)
    {
        Ok(a) => a,
        Err(e) => return fail(&format!("{e:#}")),
    };
    let url = answer["paired"]["url"].as_str().unwrap_or_default();
    let label = answer["paired"]["phone"]["label"]
        .as_str()
        .unwrap_or("phone");
    let qr = codex_governance::launcher::phones::terminal_qr(url).unwrap_or_default();
    out(
        &format!(
            "{qr}\nPaired {label}. Scan the code with the phone on your tailnet, or open:\n{url}\n\
             Shown once: anyone who has it can use the page as this phone until you unpair it \
             (Notifications > Phones)."
        ),
        ExitCode::SUCCESS,
    )
}
