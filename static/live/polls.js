// The live room's poll: the current poll with its counts (votes, or the host's close button),
// one vote per person, and the host's form to open a new one.

import { button, el, say } from "../ui.js";
import { $, messages } from "./common.js";

export class Polls {
  constructor(room) {
    this.room = room;
    this.poll = null;
  }

  listen(socket) {
    socket.on("poll:opened", (poll) => this.set({ ...poll, your_vote: null }));
    socket.on("poll:results", (r) => {
      if (this.poll && this.poll.id === r.poll_id && r.total >= this.poll.total) {
        this.set({ ...this.poll, counts: r.counts, total: r.total });
      }
    });
    socket.on("poll:closed", (poll) => {
      const mine = this.poll && this.poll.id === poll.id ? this.poll.your_vote : null;
      this.set({ ...poll, your_vote: mine });
    });
  }

  bind() {
    $("poll-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.open(event.target);
    });
  }

  /** The host asks a new question while no poll is open. */
  renderForm() {
    const you = this.room.you;
    const host = you && you.role === "host";
    $("poll-form").hidden = !host || Boolean(this.poll && this.poll.status === "open");
  }

  set(poll) {
    this.poll = poll;
    const box = $("poll-current");
    const you = this.room.you;
    const host = you && you.role === "host";
    this.renderForm();
    if (!poll) {
      box.replaceChildren(el("p", "No poll open.", "muted"));
      return;
    }
    box.dataset.pollId = poll.id;
    box.dataset.status = poll.status;
    const title = el("h3", poll.question, "poll-question");
    const state = el(
      "p",
      `${poll.status === "open" ? "Open" : "Closed"} · ${poll.total} vote${poll.total === 1 ? "" : "s"}`,
      "muted",
    );
    const list = el("ul", null, "poll-options");
    poll.options.forEach((option, i) => {
      const li = el("li", null, "poll-option");
      const count = poll.counts[i] || 0;
      const id = `poll-bar-${i}`;
      const label = el("span", `${option}: ${count}`, "poll-label");
      label.id = id;
      if (poll.your_vote === i) label.append(" (your vote)");
      const bar = document.createElement("progress");
      bar.max = Math.max(poll.total, 1);
      bar.value = count;
      bar.setAttribute("aria-labelledby", id);
      li.append(label, bar);
      if (poll.status === "open" && poll.your_vote == null) {
        const vote = button("Vote", "button secondary small", `Vote for ${option}`);
        vote.addEventListener("click", () => this.vote(poll.id, i));
        li.append(vote);
      }
      list.append(li);
    });
    box.replaceChildren(title, state, list);
    if (host && poll.status === "open") {
      const close = button("Close poll", "button secondary");
      close.addEventListener("click", async () => {
        const ack = await this.room.call("poll:close", { poll_id: poll.id });
        if (ack.ok) this.set({ ...ack.data, your_vote: this.poll ? this.poll.your_vote : null });
        else say(messages, `The poll could not be closed: ${ack.problem.detail}`, "error");
      });
      box.append(close);
    }
  }

  async vote(pollId, option) {
    const ack = await this.room.call("poll:vote", { poll_id: pollId, option });
    if (ack.ok) {
      // A poll:results broadcast may have brought newer counts than the ack.
      const newer = this.poll && this.poll.id === pollId && this.poll.total > ack.data.total;
      this.set(newer ? { ...ack.data, counts: this.poll.counts, total: this.poll.total } : ack.data);
    }
    else if (ack.problem.code === "already_voted" && this.poll) {
      this.set({ ...this.poll, your_vote: ack.problem.your_vote ?? this.poll.your_vote });
    } else say(messages, `Your vote was not counted: ${ack.problem.detail}`, "error");
  }

  async open(form) {
    const question = form.elements.namedItem("question").value.trim();
    const options = form.elements
      .namedItem("options")
      .value.split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
    if (!question || options.length < 2) {
      say(messages, "A poll needs a question and at least two options.", "error");
      return;
    }
    const ack = await this.room.call("poll:open", { question, options });
    if (ack.ok) {
      form.reset();
      this.set({ ...ack.data, your_vote: null });
    } else say(messages, `The poll could not be opened: ${ack.problem.detail}`, "error");
  }
}
