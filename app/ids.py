"""Component ids of the pages, in one place (pages, callbacks, assets/*.js and tests use them)."""

# the shell: the site's navigation bar above every page (app/components/nav.py)
NAV = "site-nav"  # its links are f"nav-{page}" for page in nav.PAGES (NAV_LIBRARY among them)
NOT_FOUND_PATH = "not-found-path"  # the 404 page's echo of the address asked for

# stores and location
BOOT = "boot"  # what the URL asked for: config, autoplay, run to watch, URL error
RUN = "run"  # the run this tab shows: {"run", "config", "kind", "owner", "parent", ...}
URL_SYNC = "url-sync"  # dummy output of the clientside callback that updates the URL

# header and notices
PRESET = "preset"
PRESET_WATCH = "preset-watch"
RUN_LABEL = "run-label"
NOTICE = "notice"  # answers of callbacks: invalid field, limit reached, bad upload, ...
BANNER = "banner"  # owned by stream.js: reconnecting, diverged, failed
STATUS = "status"  # owned by stream.js: step, steps/s, frames/s, state

# transport
PLAY = "play"
STEP_D = "step-d"
STEP_G = "step-g"
STEP_BOTH = "step-both"
RESET = "reset"

# control panel: one pattern id per config field, plus its error text and its row
FIELD = "field"  # {"type": FIELD, "path": "opt_d.lr"}
FIELD_ERROR = "field-error"
FIELD_ROW = "field-row"
SECTION = "section"  # {"type": SECTION, "section": "opt_d"}: a panel section
FORM_SYNC = "form-sync"  # dummy output of the clientside callback that opens a marked section
SHOW_ALL_TARGET = "show-all-target"
UPLOAD = "upload"
UPLOAD_INFO = "upload-info"
UPLOAD_COND = "upload-cond"  # the condition of the next upload: columns (6:10) or /dataset

# views (plot divs are drawn by assets/draw.js with Plotly.react)
VIEWS = "views"
VIEW_MODE_2D = "view-mode-2d"  # map or 3-D surface
LAYERS = "layers"
PLOT_2D = "plot-2d"
PLOT_SURFACE = "plot-surface"
PLOT_1D = "plot-1d"
PLOT_PROJ = "plot-proj"
PLOT_MARG = "plot-marg"
PLOT_CORR = "plot-corr"
PLOT_KS = "plot-ks"
PLOT_NORM = "plot-norm"
CHART_LOSS = "chart-loss"
CHART_D = "chart-d"
CHART_GRAD = "chart-grad"
CHART_MODES = "chart-modes"
CHART_METRICS = "chart-metrics"
TIMELINE = "timeline"

# fork beside the parent and share links (play page; app/components/fork_share.py)
FORK_CHANGE = "fork-change"  # text: the change the child makes, "path=value; path=value"
FORK = "fork"
FORK_GO = "fork-go"  # store: the compare page of parent and child, opened from JS
FORK_NAV = "fork-nav"  # dummy output of the clientside callback that opens it
SHARE = "share"
SHARE_LINK = "share-link"  # the link itself, shown selected (and copied when the browser lets us)

# compare page (app/pages/compare.py; assets/compare.js draws into cmp-view-i, cmp-step-i, ...)
CMP_ASK = "cmp-ask"  # store: what the URL asked for
CMP_RUNS = "cmp-runs"  # store: {"runs": [payload, ...], "share": query, "same_seed": bool}
CMP_SYNC = "cmp-sync"
CMP_NOTICE = "cmp-notice"
CMP_PLAY = "cmp-play"
CMP_STEP = "cmp-step-all"
CMP_STEP_N = "cmp-step-count"
CMP_SPEED = "cmp-speed"
CMP_SAME_SEED = "cmp-same-seed"
CMP_GROUP = "cmp-group"  # "all at step N" / playing
CMP_DIFF = "cmp-diff"
CMP_GRID = "cmp-grid"
CMP_CHART_LOSS = "cmp-chart-loss"
CMP_CHART_D = "cmp-chart-d"
CMP_CHART_COVER = "cmp-chart-cover"
CMP_SHARE = "cmp-share"
CMP_SHARE_LINK = "cmp-share-link"
CMP_EXPORT = "cmp-export"  # the side-by-side export bar (app/components/exports.py)
# per run i (0..3): f"{CMP_CELL}-{i}" holds a head (swatch, label, f"{CMP_AT}-{i}" step,
# f"{CMP_STATE}-{i}" end state, focus button) and the view f"{CMP_VIEW}-{i}"; an n-D run's cell
# also holds its statistics panels f"{CMP_MARG}-{i}", f"{CMP_KS}-{i}", f"{CMP_CORR}-{i}",
# f"{CMP_NORM}-{i}" (assets/compare.js draws them with draw_nd.js)
CMP_CELL = "cmp-cell"
CMP_VIEW = "cmp-view"
CMP_AT = "cmp-at"
CMP_STATE = "cmp-state"
CMP_MARG = "cmp-marg"
CMP_KS = "cmp-ks"
CMP_CORR = "cmp-corr"
CMP_NORM = "cmp-norm"

# classroom: presenter mode, lesson bar and event feed (assets/classroom.js), lessons, drawing
PRESENT = "present-toggle"  # enters/leaves presenter mode (body.present)
LESSON_BAR = "lesson-bar"
LESSON = "lesson"  # store: the slug of the lesson the play page was opened with
LESSON_SWITCH = "lesson-switch"  # shows the remedy, or the problem again
LESSON_SHOWING = "lesson-showing"
EVENT_FEED = "event-feed"  # readable detector events of the page's run, newest first
LESSON_LIST = "lesson-list"
DRAW_CANVAS = "draw-canvas"  # owned by assets/drawtarget.js
DRAW_COUNT = "draw-count"
DRAW_UNDO = "draw-undo"
DRAW_CLEAR = "draw-clear"
DRAW_TRAIN = "draw-train"
DRAW_POINTS = "draw-points"  # store: the points read from the canvas when "train" is clicked
DRAW_NOTICE = "draw-notice"
DRAW_GO = "draw-go"  # location: the play page of the new run

# the class view (/class; owned by assets/classview.js, which polls /api/class)
CLASS_GRID = "class-grid"  # one card per live run, drawn by classview.js
CLASS_COUNT = "class-count"  # "6 students, 6 runs"
CLASS_REFUSED = "class-refused"  # why this browser may not see the class view

# exports (play page; app/components/exports.py, assets/exports.js, routes in app/exports.py)
EXPORT_BAR = "export-bar"
EXPORT_GIF = "export-gif"
EXPORT_MP4 = "export-mp4"
EXPORT_PNG = "export-png"  # client side: Plotly.downloadImage of the visible view
EXPORT_CONFIG = "export-config"
EXPORT_CSV = "export-csv"
EXPORT_STATUS = "export-status"  # owned by assets/exports.js: rendering…, done, or the error

# recordings library (app/pages/library.py; files and routes in app/recordings.py)
NAV_LIBRARY = "nav-library"  # the library's link in the site's navigation bar
LIB_NOTICE = "lib-notice"
LIB_UPLOAD = "lib-upload"
LIB_TABLE = "lib-table"  # one row per recording: tr[data-rec=NAME]
LIB_PICK = "lib-pick"  # {"type": LIB_PICK, "rec": rec_key(name)}: pick two to compare
LIB_DELETE = "lib-delete"  # {"type": LIB_DELETE, "rec": rec_key(name)}: asks to confirm
LIB_PENDING = "lib-pending"  # store: the name waiting for its delete confirmation
LIB_CONFIRM = "lib-confirm"  # the confirmation bar
LIB_CONFIRM_YES = "lib-confirm-yes"
LIB_CONFIRM_NO = "lib-confirm-no"
LIB_COMPARE = "lib-compare"  # link to the replay of the two picked recordings

# replay (app/pages/replay.py; assets/replay.js builds the controls and draws)
REPLAY_SPEC = "replay-spec"  # store: {"recs": [name, ...], "labels": [...]}
REPLAY_SYNC = "replay-sync"
REPLAY_NOTICE = "replay-notice"  # page errors (unknown recording); replay.js adds its own
REPLAY_CONTROLS = "replay-controls"  # replay.js fills it: play, speed, prev/next, scrubber, step
REPLAY_PLAY = "replay-play"
REPLAY_SPEED = "replay-speed"
REPLAY_SCRUB = "replay-scrub"
REPLAY_STEP = "replay-step"  # "step N / last": the step the panels show
REPLAY_TIMELINE = "replay-timeline"
REPLAY_EVENTS = "replay-events"  # the events as a list of buttons[data-step]
REPLAY_PANEL = "replay-panel"  # f"{REPLAY_PANEL}-{i}" per recording, with data-step drawn;
# inside it f"replay-{part}-{i}" for part in frame, marg, corr, ks, norm, loss, metrics


def rec_key(name: str) -> str:
    """A recording's file name as a pattern-id value ('.' escaped, as for `key`); reversible."""
    return name.replace("%", "%25").replace(".", "%2E")


def rec_name(value: dict | str) -> str:
    value = value["rec"] if isinstance(value, dict) else value
    return value.replace("%2E", ".").replace("%25", "%")


def key(path: str) -> str:
    """A config path as an id value: Dash reads '.' in ids as the property separator."""
    return path.replace(".", "__")


def path_of(id_value: dict | str) -> str:
    """The config path back from a pattern id (or its 'path' value)."""
    value = id_value["path"] if isinstance(id_value, dict) else id_value
    return value.replace("__", ".")


def field(path: str) -> dict:
    return {"type": FIELD, "path": key(path)}
