// Every word of the console in Vietnamese first, English second.

const WORDS = {
  title: ['Bảng điều khiển Citizen', 'Citizen console'],
  username: ['Tên đăng nhập', 'Username'],
  password: ['Mật khẩu', 'Password'],
  totp: ['Mã xác thực (6 số)', 'Authentication code (6 digits)'],
  sign_in: ['Đăng nhập', 'Sign in'],
  sign_out: ['Đăng xuất', 'Sign out'],
  session_expired: ['Phiên làm việc đã hết hạn, vui lòng đăng nhập lại.', 'Your session has ended; please sign in again.'],
  totp_needed: ['Nhập mã từ ứng dụng xác thực.', 'Enter the code from your authenticator app.'],
  queue: ['Hàng đợi phản ánh', 'Report queue'],
  status: ['Trạng thái', 'Status'],
  category: ['Lĩnh vực', 'Category'],
  ward: ['Phường/xã', 'Ward'],
  any: ['Tất cả', 'All'],
  overdue_only: ['Chỉ quá hạn', 'Overdue only'],
  mine_only: ['Việc của tôi', 'Assigned to me'],
  refresh: ['Làm mới', 'Refresh'],
  accept_selected: ['Tiếp nhận các phản ánh đã chọn', 'Accept the selected reports'],
  accepted_n: ['Đã tiếp nhận {n} phản ánh.', '{n} reports accepted.'],
  skipped_n: ['{n} phản ánh không thể tiếp nhận.', '{n} reports could not be accepted.'],
  none_in_queue: ['Không có phản ánh nào cần xử lý.', 'No report is waiting.'],
  more: ['Xem thêm', 'Show more'],
  due: ['Hạn xử lý', 'Due'],
  overdue: ['Quá hạn', 'Overdue'],
  urgent: ['Khẩn cấp', 'Urgent'],
  new_reports: ['Có phản ánh mới.', 'New reports arrived.'],
  back: ['Quay lại hàng đợi', 'Back to the queue'],
  description: ['Nội dung', 'Description'],
  answers: ['Thông tin bổ sung', 'Answers'],
  photos: ['Ảnh', 'Photos'],
  original: ['Ảnh gốc', 'Original'],
  timeline: ['Diễn biến', 'Timeline'],
  duplicates: ['Phản ánh trùng', 'Duplicates'],
  duplicate_of: ['Trùng với', 'Duplicate of'],
  department: ['Cơ quan xử lý', 'Department'],
  filed: ['Ngày gửi', 'Filed'],
  internal: ['Nội bộ', 'Internal'],
  accept: ['Tiếp nhận', 'Accept'],
  start: ['Bắt đầu xử lý', 'Start work'],
  resolve: ['Hoàn thành', 'Resolve'],
  reject: ['Từ chối', 'Reject'],
  comment: ['Ghi chú', 'Comment'],
  public_note: ['Trả lời người dân (công khai)', 'Answer to the resident (public)'],
  internal_note: ['Ghi chú nội bộ', 'Internal note'],
  template: ['Mẫu trả lời', 'Response template'],
  no_template: ['— Không dùng mẫu —', '— No template —'],
  proof_photo: ['Ảnh kết quả xử lý', 'Proof photo'],
  reason: ['Lý do', 'Reason'],
  comment_public: ['Công khai cho người dân', 'Shown to the resident'],
  add_comment: ['Thêm ghi chú', 'Add comment'],
  done: ['Đã cập nhật.', 'Updated.'],
  uploading: ['Đang tải ảnh lên…', 'Uploading the photo…'],
  need_photo: ['Cần ít nhất một ảnh kết quả.', 'At least one proof photo is needed.'],
  need_note: ['Cần trả lời người dân.', 'An answer to the resident is needed.'],
  error: ['Có lỗi xảy ra', 'Something went wrong'],
  not_staff: ['Tài khoản này không phải cán bộ.', 'This account is not staff.'],
  language: ['English', 'Tiếng Việt'],
  'status.submitted': ['Mới gửi', 'Submitted'],
  'status.accepted': ['Đã tiếp nhận', 'Accepted'],
  'status.assigned': ['Đã phân công', 'Assigned'],
  'status.in_progress': ['Đang xử lý', 'In progress'],
  'status.resolved': ['Đã xử lý', 'Resolved'],
  'status.rejected': ['Từ chối', 'Rejected'],
  'status.closed': ['Đã đóng', 'Closed'],
  'status.reopened': ['Mở lại', 'Reopened'],
  assign_me: ['Nhận xử lý', 'Assign to me'],
  'reason.not_responsible': ['Không thuộc thẩm quyền', 'Not our responsibility'],
  'reason.duplicate': ['Trùng lặp', 'Duplicate'],
  'reason.invalid': ['Không hợp lệ', 'Invalid'],
  'reason.spam': ['Spam', 'Spam'],
  'kind.created': ['Gửi phản ánh', 'Filed'],
  'kind.status_changed': ['Đổi trạng thái', 'Status changed'],
  'kind.comment': ['Ghi chú', 'Comment'],
  'kind.duplicate_linked': ['Liên kết trùng', 'Duplicate linked'],
  'kind.overdue': ['Quá hạn', 'Overdue'],
  'kind.rated': ['Đánh giá', 'Rated'],
};

const STORED = 'citizen.console.lang';
export let lang = localStorage.getItem(STORED) === 'en' ? 'en' : 'vi';

export function setLang(next) {
  lang = next;
  localStorage.setItem(STORED, next);
  document.documentElement.lang = next;
}

/** The word for `key` in the chosen language, `{name}`s filled from `values`. */
export function t(key, values = {}) {
  const pair = WORDS[key];
  const text = pair ? pair[lang === 'vi' ? 0 : 1] : key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** The name of a `{name_vi, name_en}` in the chosen language. */
export function named(thing) {
  if (!thing) return '';
  return (lang === 'vi' ? thing.name_vi : thing.name_en) || thing.name_vi || thing.id || '';
}
