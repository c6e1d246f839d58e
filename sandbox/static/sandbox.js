// The sandbox's web chat: a thin client over /sandbox/api (no build step).
(() => {
  const UI = JSON.parse(document.getElementById("ui").textContent);
  const W = UI.words;
  const $ = (sel) => document.querySelector(sel);
  let personas = [];
  let current = null;
  let lastSeq = -1;
  const seen = JSON.parse(localStorage.getItem("sandbox-seen") || "{}");

  document.querySelectorAll("[data-w]").forEach((el) => { el.textContent = W[el.dataset.w]; });
  document.querySelectorAll("[data-wp]").forEach((el) => { el.placeholder = W[el.dataset.wp]; });
  document.querySelectorAll("[data-wt]").forEach((el) => { el.title = W[el.dataset.wt]; });
  $("#lang-switch").href = "/?lang=" + (UI.lang === "en" ? "zh_Hans" : "en");
  $("#ladder-link").href = "/sandbox/api/ladder.svg?lang=" + UI.lang;

  async function api(path, form) {
    const opts = form ? { method: "POST", body: form } : {};
    const res = await fetch("/sandbox/api" + path, opts);
    if (!res.ok) throw new Error(path + " " + res.status);
    return res.json();
  }
  function form(fields) {
    const f = new FormData();
    Object.entries(fields).forEach(([k, v]) => f.append(k, v));
    return f;
  }

  async function loadPersonas() {
    personas = (await api("/personas?lang=" + UI.lang)).personas;
    const list = $("#persona-list");
    list.innerHTML = "";
    personas.forEach((p) => {
      const li = document.createElement("li");
      li.dataset.id = p.id;
      li.dataset.testid = "persona-" + (p.key || p.id);
      li.innerHTML = '<div class="who"><div class="name"></div><div class="role"></div></div><span class="badge"></span>';
      li.querySelector(".name").textContent = p.name;
      li.querySelector(".role").textContent = p.role_label || "";
      const unread = p.bot_messages - (seen[p.id] || 0);
      li.querySelector(".badge").textContent = current && current.id === p.id ? "" : (unread > 0 ? unread : "");
      li.classList.toggle("active", !!current && current.id === p.id);
      li.onclick = () => select(p.id);
      if (p.console) {
        const a = document.createElement("a");
        a.className = "console-link";
        a.href = "/sandbox/console/" + p.id;
        a.target = "_blank";
        a.rel = "noopener";
        a.textContent = "🖥";
        a.title = W.console;
        a.setAttribute("aria-label", W.console);
        a.dataset.testid = "console-" + (p.key || p.id);
        a.onclick = (ev) => ev.stopPropagation();
        li.querySelector(".who").appendChild(a);
      }
      list.appendChild(li);
    });
    if (!current && personas.length) select(personas[0].id);
  }

  function select(id) {
    current = personas.find((p) => p.id === id) || current;
    lastSeq = -1;
    $("#chat-title").textContent = current ? current.name + (current.role_label ? " · " + current.role_label : "") : "";
    document.querySelectorAll("#persona-list li").forEach((li) => li.classList.toggle("active", Number(li.dataset.id) === id));
    refreshChat();
  }

  function renderMessage(m) {
    const li = document.createElement("li");
    li.className = "msg" + (m.from_bot ? "" : " me");
    li.dataset.id = m.id;
    const body = document.createElement("div");
    body.className = "text";
    body.innerHTML = m.html;
    li.appendChild(body);
    if (m.location) {
      const loc = document.createElement("div");
      loc.textContent = "📍 " + W.location + " " + m.location.lat.toFixed(4) + ", " + m.location.lon.toFixed(4);
      li.appendChild(loc);
    }
    m.files.forEach((f) => {
      if (f.kind === "photo") {
        const img = document.createElement("img");
        img.src = f.url;
        img.alt = "";
        img.style.maxWidth = "100%";
        img.style.borderRadius = "8px";
        li.appendChild(img);
        return;
      }
      const a = document.createElement("a");
      a.className = "file";
      a.href = f.url;
      a.textContent = (f.kind === "photo" ? "🖼 " : "📄 ") + (f.name || W.download);
      a.setAttribute("download", "");
      li.appendChild(a);
    });
    if (m.buttons.length) {
      const kb = document.createElement("div");
      kb.className = "kb";
      m.buttons.forEach((row) => {
        const r = document.createElement("div");
        r.className = "row";
        row.forEach((b) => {
          const btn = document.createElement("button");
          btn.type = "button";
          btn.textContent = b.text;
          btn.onclick = () => act("/tap", { message_id: m.id, data: b.data });
          r.appendChild(btn);
        });
        kb.appendChild(r);
      });
      li.appendChild(kb);
    }
    if (m.answer) {
      const answer = document.createElement("div");
      answer.className = "answer" + (m.answer.alert ? " alert" : "");
      answer.dataset.testid = "callback-answer";
      answer.textContent = m.answer.text;
      li.appendChild(answer);
    }
    const meta = document.createElement("div");
    meta.className = "meta";
    const d = new Date(m.date * 1000);
    meta.textContent = (m.edited ? W.edited + " · " : "") + d.toLocaleTimeString(UI.lang === "en" ? "en" : "zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit" });
    li.appendChild(meta);
    return li;
  }

  // Telegram keeps a reply keyboard up until a later message replaces or removes it
  function renderKeyboard(messages) {
    const box = $("#reply-keyboard");
    box.innerHTML = "";
    const decisive = [...messages].reverse().find((m) => m.from_bot && (m.keyboard.length || m.remove_keyboard));
    if (!decisive || !decisive.keyboard.length) return;
    decisive.keyboard.forEach((row) => row.forEach((b) => {
      const btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = b.text;
      btn.onclick = () => {
        if (b.contact) act("/contact", {});
        else if (b.location) sendLocation();
        else act("/send", { text: b.text });
      };
      box.appendChild(btn);
    }));
  }

  async function refreshChat() {
    if (!current) return;
    const data = await api("/chat/" + current.id);
    if (data.seq === lastSeq) return;
    lastSeq = data.seq;
    const list = $("#messages");
    list.innerHTML = "";
    if (!data.messages.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = W.empty;
      list.appendChild(li);
    }
    data.messages.forEach((m) => list.appendChild(renderMessage(m)));
    list.scrollTop = list.scrollHeight;
    renderKeyboard(data.messages);
    seen[current.id] = data.messages.filter((m) => m.from_bot).length;
    localStorage.setItem("sandbox-seen", JSON.stringify(seen));
  }

  async function act(path, fields) {
    if (!current) return;
    try { await api(path, form({ user_id: current.id, ...fields })); } catch (e) { console.warn(e); }
    setTimeout(refreshChat, 150);
  }

  function sendLocation() {
    const fallback = () => act("/location", { lat: 26.1, lon: 117.6 });
    if (!navigator.geolocation) return fallback();
    navigator.geolocation.getCurrentPosition((p) => act("/location", { lat: p.coords.latitude, lon: p.coords.longitude }), fallback, { timeout: 2000 });
  }

  async function refreshClock() {
    const c = await api("/clock");
    const d = new Date(c.now);
    $("#clock").textContent = d.toLocaleString(UI.lang === "en" ? "en" : "zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", weekday: "short", hour: "2-digit", minute: "2-digit" });
    $("#clock").dateTime = c.now;
    document.querySelector('[data-step="next"]').disabled = !c.next_deadline;
  }

  document.querySelectorAll(".clockbar button[data-step]").forEach((b) => {
    b.onclick = async () => {
      b.disabled = true;
      try { await api("/clock", form({ step: b.dataset.step })); } catch (e) { alert(W.no_deadline); }
      b.disabled = false;
      await refreshClock();
      await loadPersonas();
      refreshChat();
    };
  });
  // the date field: on to a later instant, in the county's time (the clock shows Asia/Shanghai)
  $("#clock-go").onclick = async () => {
    const value = $("#clock-to").value;
    if (!value) return;
    const go = $("#clock-go");
    go.disabled = true;
    try { await api("/clock", form({ step: "to", to: (value.length === 16 ? value + ":00" : value) + "+08:00" })); } catch (e) { console.warn(e); }
    go.disabled = false;
    await refreshClock();
    await loadPersonas();
    refreshChat();
  };
  $("#composer").onsubmit = (e) => {
    e.preventDefault();
    const text = $("#text").value.trim();
    if (!text) return;
    $("#text").value = "";
    act("/send", { text });
  };
  $("#menu-button").onclick = () => act("/send", { text: "/menu" });
  $("#location-button").onclick = sendLocation;
  $("#file-input").onchange = async (e) => {
    const file = e.target.files[0];
    if (!file || !current) return;
    const f = form({ user_id: current.id, as_photo: file.type.startsWith("image/") });
    f.append("file", file);
    await fetch("/sandbox/api/upload", { method: "POST", body: f });
    e.target.value = "";
    setTimeout(refreshChat, 150);
  };
  $("#join").onclick = async () => {
    const code = prompt(W.invite_prompt);
    if (!code) return;
    const res = await api("/invite", form({ code }));
    await loadPersonas();
    select(res.id);
  };

  loadPersonas().then(refreshClock);
  setInterval(refreshChat, 1000);
  setInterval(() => { loadPersonas(); refreshClock(); }, 4000);
})();
