/// The dashboard's only stylesheet, served from `/assets/airlock.css` (the CSP allows nothing
/// else: no inline style, no script, no font or image from anywhere but this appliance).
enum Stylesheet {
    static let css = """
        :root { --ink: #1d2433; --muted: #5b6478; --line: #d9dde6; --bg: #f6f7fa; --accent: #0b5fff; --bad: #b42318; --ok: #067647; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
        header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; background: #101828; color: #fff; flex-wrap: wrap; }
        header .brand { font-weight: 700; letter-spacing: .04em; }
        header nav { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; flex: 1; }
        header nav a { color: #d0d5dd; text-decoration: none; }
        header nav a.active, header nav a:hover { color: #fff; text-decoration: underline; }
        header .who { margin-left: auto; color: #98a2b3; font-size: .9em; }
        header form { margin: 0; }
        header button { background: transparent; color: #d0d5dd; border: 1px solid #475467; }
        main { max-width: 1200px; margin: 0 auto; padding: 1.5rem; }
        h1 { font-size: 1.5rem; margin: 0 0 1rem; }
        h2 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; }
        table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
        th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: #eef1f6; font-weight: 600; font-size: .9em; }
        td form { display: inline; }
        form { display: flex; gap: .5rem; align-items: end; flex-wrap: wrap; margin: .5rem 0; }
        label { display: flex; flex-direction: column; font-size: .85em; color: var(--muted); }
        input, select { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 4px; min-width: 10rem; }
        button { font: inherit; padding: .35rem .8rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
        button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
        td button { padding: .15rem .5rem; font-size: .85em; }
        .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); gap: 1rem; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1rem; }
        .card .value { font-size: 1.6rem; font-weight: 700; }
        .card .label { color: var(--muted); font-size: .85em; }
        .badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .8em; background: #eef1f6; }
        .badge.active, .badge.intact { background: #dcfae6; color: var(--ok); }
        .badge.suspended, .badge.draining, .badge.grace, .badge.evaluation { background: #fef0c7; color: #93370d; }
        .badge.revoked, .badge.dead, .badge.expired, .badge.broken, .badge.disabled { background: #fee4e2; color: var(--bad); }
        .secret { background: #fff; border: 2px solid var(--accent); padding: 1rem; border-radius: 6px; }
        .secret code { font-size: 1.05rem; word-break: break-all; }
        .error { background: #fee4e2; color: var(--bad); border: 1px solid #fda29b; padding: .75rem 1rem; border-radius: 6px; }
        .empty, .note { color: var(--muted); }
        .chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; }
        .chart svg { width: 100%; height: auto; }
        .legend { display: flex; gap: 1rem; flex-wrap: wrap; font-size: .85em; margin: .5rem 0; }
        .legend svg { width: .8em; height: .8em; margin-right: .3em; vertical-align: middle; }
        .login { max-width: 22rem; margin: 4rem auto; background: #fff; padding: 1.5rem; border: 1px solid var(--line); border-radius: 8px; }
        .login form { flex-direction: column; align-items: stretch; }
        code { font-family: ui-monospace, monospace; font-size: .9em; }
        td code { white-space: pre-wrap; overflow-wrap: anywhere; }
        """
}
