// The pipeline board: drag a card onto another column to move the lead there. The drop sends
// the same form the card's "Move" button sends (POST /leads/<id>/stage, with the form token
// in the X-CSRF-Token header), then reloads the board. Without this script the buttons work.
"use strict";

(function () {
  const board = document.getElementById("board");
  const token = document.querySelector('meta[name="csrf"]');
  if (!board || !token) return;
  let dragged = null;

  board.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest(".lead-card[draggable='true']");
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.lead);
  });

  board.addEventListener("dragend", function () {
    dragged = null;
    board.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });

  board.addEventListener("dragover", function (event) {
    const column = columnOf(event);
    if (!column || !dragged || column.dataset.stage === "waiting") return;
    event.preventDefault();
    column.classList.add("drop-target");
  });

  board.addEventListener("dragleave", function (event) {
    const column = columnOf(event);
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target");
  });

  board.addEventListener("drop", function (event) {
    const column = columnOf(event);
    if (!column || !dragged) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    const stage = column.dataset.stage;
    if (stage === dragged.dataset.stage || stage === "waiting") return;
    move(dragged.dataset.lead, stage);
  });

  function columnOf(event) {
    return event.target.closest ? event.target.closest(".column") : null;
  }

  function move(lead, stage) {
    const form = new FormData();
    form.append("stage", stage);
    if (stage === "lost") {
      const reason = window.prompt(board.dataset.reason || "");
      if (!reason || !reason.trim()) return;
      form.append("reason", reason.trim());
    }
    fetch("/leads/" + encodeURIComponent(lead) + "/stage", {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": token.content },
    }).then(function (response) {
      if (!response.ok) window.alert(board.dataset.failed || "");
      window.location.reload();
    }, function () {
      window.alert(board.dataset.failed || "");
    });
  }
})();
