// Document uploads: ask the server for a presigned PUT, send the bytes straight to storage
// with a progress bar, then ask the server to verify and record them. Driven by
// [data-document-upload] (crm_modules/documents/templates/documents/_upload.html).
(function () {
  "use strict";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, fields) {
    var body = new FormData();
    Object.keys(fields).forEach(function (key) {
      if (fields[key] !== undefined && fields[key] !== null) body.append(key, fields[key]);
    });
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
        return data;
      });
    });
  }

  function put(url, headers, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) onProgress(event.loaded, event.total);
      });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(new Error(String(xhr.status)));
      });
      xhr.addEventListener("error", function () { reject(new Error("network")); });
      xhr.addEventListener("abort", function () { reject(new Error("network")); });
      xhr.send(body);
    });
  }

  // A large file goes in parts; its ticket is kept in localStorage so that, after a dropped
  // connection or a reload, choosing the same file again sends only the parts S3 lacks.
  function fileKey(zone, file) {
    return "rapport.upload:" + [zone.dataset.startUrl, zone.dataset.recordType || "", zone.dataset.recordId || "",
      file.name, file.size, file.lastModified].join("|");
  }

  function remembered(key) {
    try { return window.localStorage.getItem(key); } catch (error) { return null; }
  }

  function remember(key, ticket) {
    try {
      if (ticket) window.localStorage.setItem(key, ticket);
      else window.localStorage.removeItem(key);
    } catch (error) { /* private browsing: resuming within the page still works */ }
  }

  function sendParts(file, plan, progress) {
    var pending = plan.parts.reduce(function (sum, part) { return sum + part.size; }, 0);
    var done = file.size - pending;
    progress.value = Math.round((100 * done) / file.size);
    var chain = Promise.resolve();
    plan.parts.forEach(function (part) {
      chain = chain.then(function () {
        var start = (part.number - 1) * plan.part_size;
        return put(part.url, part.headers || {}, file.slice(start, start + part.size), function (loaded) {
          progress.value = Math.round((100 * (done + loaded)) / file.size);
        }).then(function () {
          done += part.size;
          progress.value = Math.round((100 * done) / file.size);
        });
      });
    });
    return chain;
  }

  function interrupted(zone, status) {
    // Wait for the member (or the connection coming back) before asking which parts are missing.
    var resume = zone.querySelector("[data-upload-resume]");
    var cancel = zone.querySelector("[data-upload-cancel]");
    status.textContent = zone.dataset.interruptedText;
    resume.hidden = false;
    cancel.hidden = false;
    return new Promise(function (resolve) {
      function finish(choice) {
        resume.hidden = true;
        cancel.hidden = true;
        resume.removeEventListener("click", onResume);
        cancel.removeEventListener("click", onCancel);
        window.removeEventListener("online", onResume);
        resolve(choice);
      }
      function onResume() { finish("resume"); }
      function onCancel() { finish("cancel"); }
      resume.addEventListener("click", onResume);
      cancel.addEventListener("click", onCancel);
      window.addEventListener("online", onResume);
    });
  }

  function inParts(zone, file, plan, progress, status) {
    var key = fileKey(zone, file);
    remember(key, plan.ticket);
    return sendParts(file, plan, progress)
      .then(function () { return post(zone.dataset.completeUrl, { ticket: plan.ticket }); })
      .then(function (result) {
        remember(key, null);
        return result;
      }, function () {
        return interrupted(zone, status).then(function (choice) {
          if (choice === "cancel") {
            remember(key, null);
            return post(zone.dataset.abortUrl, { ticket: plan.ticket }).then(function () {
              throw new Error(zone.dataset.cancelledText);
            });
          }
          status.textContent = file.name;
          return post(zone.dataset.resumeUrl, { ticket: plan.ticket }).then(function (next) {
            return inParts(zone, file, next, progress, status);
          });
        });
      });
  }

  function start(zone, file) {
    var fields = {
      name: file.name,
      content_type: file.type || "application/octet-stream",
      size: file.size,
      record_type: zone.dataset.recordType,
      record_id: zone.dataset.recordId,
    };
    var earlier = remembered(fileKey(zone, file));
    if (!earlier) return post(zone.dataset.startUrl, fields);
    return post(zone.dataset.resumeUrl, { ticket: earlier }).catch(function () {
      remember(fileKey(zone, file), null);
      return post(zone.dataset.startUrl, fields);
    });
  }

  function upload(zone, file) {
    var progress = zone.querySelector("[data-upload-progress]");
    var status = zone.querySelector("[data-upload-status]");
    progress.hidden = false;
    progress.value = 0;
    status.textContent = file.name;
    return start(zone, file)
      .then(function (ticket) {
        if (ticket.parts) return inParts(zone, file, ticket, progress, status);
        return put(ticket.url, ticket.headers, file, function (loaded, total) {
          progress.value = Math.round((100 * loaded) / total);
        }).then(function () {
          return post(zone.dataset.completeUrl, { ticket: ticket.ticket });
        }, function () {
          throw new Error(zone.dataset.failedText);
        });
      })
      .then(function () {
        progress.value = 100;
        status.textContent = zone.dataset.doneText + " " + file.name;
        document.body.dispatchEvent(new CustomEvent("rapport:document.uploaded"));
        return true;
      })
      .catch(function (error) {
        progress.hidden = true;
        status.textContent = error.message || zone.dataset.failedText;
        return false;
      });
  }

  function uploadAll(zone, files) {
    var chain = Promise.resolve();
    var uploaded = 0;
    Array.prototype.forEach.call(files, function (file) {
      chain = chain.then(function () {
        return upload(zone, file).then(function (ok) { if (ok) uploaded += 1; });
      });
    });
    // The page shows the new documents (and their timeline entries) once all have gone.
    return chain.then(function () { if (uploaded) window.location.reload(); });
  }

  // Upload zones on the page, and in the panels a record page fetches once shown.
  function bindZones(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var zones = Array.prototype.slice.call(scope.querySelectorAll("[data-document-upload]"));
    if (scope.matches && scope.matches("[data-document-upload]")) zones.push(scope);
    zones.forEach(bindZone);
  }

  function bindZone(zone) {
    if (zone.hasAttribute("data-upload-ready")) return;
    zone.setAttribute("data-upload-ready", "");
    zone.querySelectorAll("[data-upload-input]").forEach(function (input) {
      input.addEventListener("change", function () {
        if (input.files && input.files.length) uploadAll(zone, input.files);
        input.value = "";
      });
    });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("upload-zone-over");
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("upload-zone-over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("upload-zone-over");
      if (event.dataTransfer && event.dataTransfer.files.length) uploadAll(zone, event.dataTransfer.files);
    });
  }

  bindZones(document);
  document.addEventListener("htmx:load", function (event) { bindZones(event.detail.elt); });
})();

// A refused link or unlink answers 400 with the Documents panel and its message: show it
// (htmx leaves error answers unswapped by default).
document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  if (event.detail.xhr.status === 400 && target && target.classList && target.classList.contains("documents-panel")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
