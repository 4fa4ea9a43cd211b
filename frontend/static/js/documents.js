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

  function put(url, headers, file, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) onProgress(Math.round((100 * event.loaded) / event.total));
      });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(new Error(String(xhr.status)));
      });
      xhr.addEventListener("error", function () { reject(new Error("network")); });
      xhr.send(file);
    });
  }

  function upload(zone, file) {
    var progress = zone.querySelector("[data-upload-progress]");
    var status = zone.querySelector("[data-upload-status]");
    progress.hidden = false;
    progress.value = 0;
    status.textContent = file.name;
    return post(zone.dataset.startUrl, {
      name: file.name,
      content_type: file.type || "application/octet-stream",
      size: file.size,
      record_type: zone.dataset.recordType,
      record_id: zone.dataset.recordId,
    })
      .then(function (ticket) {
        return put(ticket.url, ticket.headers, file, function (percent) {
          progress.value = percent;
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
      })
      .catch(function (error) {
        progress.hidden = true;
        status.textContent = error.message || zone.dataset.failedText;
      });
  }

  function uploadAll(zone, files) {
    var chain = Promise.resolve();
    Array.prototype.forEach.call(files, function (file) {
      chain = chain.then(function () { return upload(zone, file); });
    });
    return chain.then(function () {
      if (!zone.dataset.recordType) window.location.reload();
    });
  }

  document.querySelectorAll("[data-document-upload]").forEach(function (zone) {
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
  });
})();
